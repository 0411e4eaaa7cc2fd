import { describe, expect, it } from 'vitest';
import { CATALOGUES, LOCALES, interpolate, paramNames, t, useLocale } from '../../../src/core/i18n/index.js';
import { en } from '../../../src/core/i18n/en.js';
import { zhCN } from '../../../src/core/i18n/zh-CN.js';
import { englishIn } from '../../support/no-english.js';

/*
 * The catalogue itself: every language has exactly English's keys, each text takes the same
 * parameters as its English one, and the Chinese texts hold no English once their parameters are
 * filled (product names, commands and settings may stay).
 */

describe('message catalogue', () => {
  it('has the same keys in every language', () => {
    const keys = Object.keys(en).sort();
    for (const locale of LOCALES) {
      const own = Object.keys(CATALOGUES[locale]).sort();
      expect({ locale, missing: keys.filter((k) => !own.includes(k)), extra: own.filter((k) => !keys.includes(k)) }).toEqual({ locale, missing: [], extra: [] });
    }
  });

  it('gives each text the same parameters in every language', () => {
    const differing = LOCALES.flatMap((locale) =>
      Object.entries(en)
        .filter(([key, text]) => JSON.stringify(paramNames(CATALOGUES[locale][key as keyof typeof en])) !== JSON.stringify(paramNames(text)))
        .map(([key]) => `${locale} ${key}: ${paramNames(CATALOGUES[locale][key as keyof typeof en]).join(',')} vs en ${paramNames(en[key as keyof typeof en]).join(',')}`),
    );
    expect(differing).toEqual([]);
  });

  it('has no empty text', () => {
    for (const locale of LOCALES) expect(Object.entries(CATALOGUES[locale]).filter(([key, text]) => text.trim() === '' && !key.endsWith('separator'))).toEqual([]);
  });

  it('leaves no English in a Chinese text once its parameters are filled', () => {
    const filled = Object.entries(zhCN).map(([key, text]) => {
      // Parameters stand for values (names, ids, titles): a CJK placeholder keeps them out of the check.
      const params = Object.fromEntries(paramNames(text).map((p) => [p, '值']));
      return { key, shown: interpolate(text, params) };
    });
    const english = filled.map(({ key, shown }) => ({ key, english: englishIn(shown) })).filter((x) => x.english.length > 0);
    expect(english).toEqual([]);
  });

  it('fills parameters and English plurals', () => {
    expect(interpolate('{n} {n|alert|alerts} on {service}', { n: 1, service: 'shop' })).toBe('1 alert on shop');
    expect(interpolate('{n} {n|alert|alerts} on {service}', { n: 3, service: 'shop' })).toBe('3 alerts on shop');
    // A parameter a caller forgot is shown as its placeholder, never as "undefined".
    expect(interpolate('incident #{id}', {})).toBe('incident #{id}');
    const previous = useLocale({ locale: 'zh-CN', timeZone: 'Asia/Shanghai' });
    try {
      expect(t('thread.alertsJoined', { count: 2, alerts: 'a, b' })).toBe('➕ 新增 2 条告警：a, b。');
    } finally {
      useLocale(previous);
    }
    expect(t('thread.alertsJoined', { count: 2, alerts: 'a, b' })).toBe('➕ 2 alerts joined: a, b.');
  });

  it('catches English prose but not what may stay as written', () => {
    expect(englishIn('✅ 事件 #1 已恢复，持续 5 分钟。')).toEqual([]);
    expect(englishIn('将执行 `node -e x`（超时 60 秒） service=shop ALERTMANAGER_URL Slack')).toEqual([]);
    expect(englishIn('🙋 alice 申请执行 *Restart shop*', { allowed: ['alice', 'Restart shop'] })).toEqual([]);
    expect(englishIn('Incident #1 opened: ShopDown')).toEqual(['Incident opened', 'ShopDown']);
    expect(englishIn('已完成 exit code was zero')).toEqual(['exit code was zero']);
  });
});
