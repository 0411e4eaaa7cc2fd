import type { opsEn } from './ops.en.js';

/* 类型化运维动作（重启、回滚、验证、compose、检查）的结果与发现，键与 ops.en.ts 一一对应。 */
export const opsZhCN: Readonly<Record<keyof typeof opsEn, string>> = {};
