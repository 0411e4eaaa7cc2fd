import type { dataEn } from './data.en.js';

/* 数据动作（检查点、备份、恢复、定位备份）的结果、发现与产出文件，键与 data.en.ts 一一对应。 */
export const dataZhCN: Readonly<Record<keyof typeof dataEn, string>> = {};
