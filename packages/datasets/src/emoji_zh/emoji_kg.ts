/**
 * The emoji-zh knowledge graph: real relations from CLDR data.
 *
 * - 关键词 (keyword): emoji -> CLDR zh keyword, e.g. 狗脸 关键词 汪星人
 * - 属于子类 / 属于大类: emoji -> subgroup -> group (hand-written zh names, see names_zh.ts)
 * - 包含 (contains): emoji -> the emoji named by each of its code points (ZWJ, skin-tone, hair
 *   sequences), e.g. 女消防员 包含 女人, 消防车
 * - 变体于 (variant of): skin-tone variant -> base emoji
 * - 代表地区 (flag of): flag emoji -> CLDR zh territory name, e.g. 旗:法国 代表地区 法国
 * - 位于 / 成员 / 使用货币 / 官方语言: CLDR territory containment (M49 geography vs. the EU, euro
 *   area and UN groupings), current legal-tender currencies, official languages.
 */
import { KnowledgeGraph } from '../kg';
import { indexEmojibase, normaliseHex, normaliseLabel } from './catalog';
import { GROUP_NAMES_ZH, SUBGROUP_NAMES_ZH } from './names_zh';
import type { CldrSources, EmojibaseEntry, EmojiSources } from './sources';

export const EMOJI_RELATIONS = {
  keyword: '关键词',
  subgroup: '属于子类',
  group: '属于大类',
  contains: '包含',
  variantOf: '变体于',
  flagOf: '代表地区',
  locatedIn: '位于',
  memberOf: '成员',
  currency: '使用货币',
  language: '官方语言',
} as const;

const REGIONAL_A = 0x1f1e6;
const REGIONAL_Z = 0x1f1ff;

function codePoints(hex: string): number[] {
  return hex.split('-').map((h) => Number.parseInt(h, 16));
}

function isRegional(cp: number): boolean {
  return cp >= REGIONAL_A && cp <= REGIONAL_Z;
}

/** ISO 3166 code of a two-regional-indicator flag sequence, else null. */
export function flagRegion(hex: string): string | null {
  const cps = codePoints(hex);
  if (cps.length !== 2 || !cps.every(isRegional)) return null;
  return cps.map((cp) => String.fromCharCode(65 + cp - REGIONAL_A)).join('');
}

/** Entries of emojibase in file order (base first, then its skins), regional indicators left out. */
function allEntries(
  entries: readonly EmojibaseEntry[],
): Array<{ e: EmojibaseEntry; base: EmojibaseEntry | null }> {
  const out: Array<{ e: EmojibaseEntry; base: EmojibaseEntry | null }> = [];
  for (const e of entries) {
    const cps = codePoints(normaliseHex(e.hexcode));
    if (cps.length === 1 && isRegional(cps[0])) continue;
    out.push({ e, base: null });
    for (const s of e.skins ?? []) out.push({ e: s, base: e });
  }
  return out;
}

export interface EmojiKgOptions {
  countryFacts: boolean;
}

export function buildEmojiKg(sources: EmojiSources, options: EmojiKgOptions): KnowledgeGraph {
  const R = EMOJI_RELATIONS;
  const kg = new KnowledgeGraph();
  const index = indexEmojibase(sources.emojibase);
  const { groups, subgroups } = sources.groups;
  const entries = allEntries(sources.emojibase);
  const flagTerritories: Array<{ label: string; code: string }> = [];
  // Register every emoji first, so emoji ids come before keywords and categories.
  for (const { e } of entries) kg.entity(normaliseLabel(e.label), 'emoji');
  const subgroupOfGroup = new Map<string, string>();
  for (const { e, base } of entries) {
    const label = normaliseLabel(e.label);
    const hex = normaliseHex(e.hexcode);
    const groupKey = groups[String(e.group ?? base?.group)];
    const subKey = subgroups[String(e.subgroup ?? base?.subgroup)];
    if (subKey !== undefined && !base) {
      const subName = SUBGROUP_NAMES_ZH[subKey];
      if (!subName) throw new Error(`emoji-zh: no zh name for subgroup "${subKey}" (names_zh.ts)`);
      kg.add(label, R.subgroup, subName, 'emoji', 'subgroup');
      if (groupKey !== undefined)
        subgroupOfGroup.set(subName, GROUP_NAMES_ZH[groupKey] ?? groupKey);
    }
    if (base) kg.add(label, R.variantOf, normaliseLabel(base.label), 'emoji', 'emoji');
    for (const tag of e.tags ?? []) {
      const t = normaliseLabel(tag);
      if (t.length > 0 && t !== label)
        kg.add(label, R.keyword, t, 'emoji', kg.typeOf(t) ?? 'keyword');
    }
    const region = flagRegion(hex);
    if (region) {
      flagTerritories.push({ label, code: region });
      continue;
    }
    const cps = hex.split('-');
    if (cps.length > 1) {
      for (const cp of cps) {
        if (cp === '200D' || cp === '20E3' || isRegional(Number.parseInt(cp, 16))) continue;
        const part = index.byHex.get(cp);
        if (part) kg.add(label, R.contains, normaliseLabel(part.label), 'emoji', 'emoji');
      }
    }
  }
  for (const [sub, group] of subgroupOfGroup) kg.add(sub, R.group, group, 'subgroup', 'group');
  if (options.countryFacts) {
    if (!sources.cldr) throw new Error('emoji-zh: country facts need the CLDR sources');
    addCountryFacts(kg, sources.cldr, flagTerritories);
  }
  return kg;
}

const ORGANISATIONS = new Set(['EU', 'EZ', 'UN']);

function addCountryFacts(
  kg: KnowledgeGraph,
  cldr: CldrSources,
  flags: Array<{ label: string; code: string }>,
): void {
  const R = EMOJI_RELATIONS;
  const parents = new Map<string, string[]>();
  for (const [parent, value] of Object.entries(cldr.containment)) {
    if (parent.includes('-status-')) continue;
    for (const child of value._contains) {
      const list = parents.get(child) ?? [];
      list.push(parent);
      parents.set(child, list);
    }
  }
  const name = (code: string): string | undefined => cldr.territoryNames[code];
  const regionDone = new Set<string>();
  const addRegionChain = (code: string): void => {
    if (regionDone.has(code)) return;
    regionDone.add(code);
    const own = name(code);
    if (!own) return;
    for (const p of parents.get(code) ?? []) {
      const pn = name(p);
      if (!pn || ORGANISATIONS.has(p)) continue;
      kg.add(own, R.locatedIn, pn, 'region', 'region');
      addRegionChain(p);
    }
  };
  const languageName = (code: string): string | undefined => {
    const dashed = code.replace(/_/g, '-');
    return cldr.languageNames[dashed] ?? cldr.languageNames[dashed.split('-')[0]];
  };
  for (const { label, code } of flags) {
    const country = name(code);
    if (!country) continue;
    kg.add(label, R.flagOf, country, 'emoji', 'territory');
    for (const p of parents.get(code) ?? []) {
      const pn = name(p);
      if (!pn) continue;
      if (ORGANISATIONS.has(p)) {
        kg.add(country, R.memberOf, pn, 'territory', 'organisation');
      } else {
        kg.add(country, R.locatedIn, pn, 'territory', 'region');
        addRegionChain(p);
      }
    }
    for (const period of cldr.currencyRegions[code] ?? []) {
      for (const [cur, info] of Object.entries(period)) {
        if (info._to !== undefined || info._tender === 'false') continue;
        const cn = cldr.currencyNames[cur]?.displayName;
        if (cn) kg.add(country, R.currency, cn, 'territory', 'currency');
      }
    }
    const langs = cldr.territoryInfo[code]?.languagePopulation ?? {};
    for (const lang of Object.keys(langs).sort()) {
      const status = langs[lang]._officialStatus;
      if (status !== 'official' && status !== 'de_facto_official') continue;
      const ln = languageName(lang);
      if (ln) kg.add(country, R.language, ln, 'territory', 'language');
    }
  }
}
