/**
 * Loads the pinned npm packages behind emoji-zh from node_modules (nothing is downloaded):
 * emoji-datasource-google (Noto Emoji PNGs + emoji.json), emojibase-data (CLDR zh names and
 * keywords) and the CLDR JSON packages for the country facts.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface SourcePackage {
  name: string;
  version: string;
  license: string;
  dir: string;
  /** What the dataset takes from it. */
  role: string;
}

/** Exact versions the builder was written and verified against. */
export const PINNED_SOURCES: Record<string, { version: string; role: string }> = {
  'emoji-datasource-google': {
    version: '16.0.0',
    role: 'emoji images (Noto Emoji, 64x64 PNG) and emoji.json',
  },
  'emojibase-data': { version: '17.0.0', role: 'CLDR Chinese emoji names (captions) and keywords' },
  'cldr-core': { version: '48.2.0', role: 'territory containment, currencies, official languages' },
  'cldr-localenames-full': { version: '48.2.0', role: 'Chinese territory and language names' },
  'cldr-numbers-full': { version: '48.2.0', role: 'Chinese currency names' },
};

export function resolvePackage(name: string): SourcePackage {
  let manifestPath: string;
  try {
    manifestPath = require.resolve(`${name}/package.json`);
  } catch {
    throw new Error(
      `emoji-zh: package ${name} is not installed (it is a dependency of @artist-ts/datasets)`,
    );
  }
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as {
    version: string;
    license?: string;
  };
  const pinned = PINNED_SOURCES[name];
  if (pinned && manifest.version !== pinned.version) {
    throw new Error(
      `emoji-zh: ${name}@${manifest.version} is installed but the builder is pinned to ${pinned.version} (${manifestPath})`,
    );
  }
  return {
    name,
    version: manifest.version,
    license: manifest.license ?? 'UNKNOWN',
    dir: path.dirname(manifestPath),
    role: pinned?.role ?? '',
  };
}

export function readJson<T>(file: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new Error(`${file}: cannot read JSON (${(err as Error).message})`);
  }
}

// --- emoji-datasource-google -------------------------------------------------------------

export interface DatasourceImage {
  unified: string;
  image: string;
  has_img_google?: boolean;
}

export interface DatasourceEmoji extends DatasourceImage {
  name: string | null;
  short_name: string;
  category: string;
  subcategory: string;
  sort_order: number;
  skin_variations?: Record<string, DatasourceImage>;
}

// --- emojibase-data ----------------------------------------------------------------------

export interface EmojibaseEntry {
  label: string;
  hexcode: string;
  tags?: string[];
  group?: number;
  subgroup?: number;
  order?: number;
  skins?: EmojibaseEntry[];
  tone?: number | number[];
}

export interface EmojibaseGroups {
  groups: Record<string, string>;
  subgroups: Record<string, string>;
  hierarchy: Record<string, number[]>;
}

export interface EmojiSources {
  packages: SourcePackage[];
  datasource: DatasourceEmoji[];
  imageDir: string;
  emojibase: EmojibaseEntry[];
  groups: EmojibaseGroups;
  cldr?: CldrSources;
}

// --- CLDR --------------------------------------------------------------------------------

export interface CldrSources {
  containment: Record<string, { _contains: string[]; _grouping?: string }>;
  territoryInfo: Record<
    string,
    { languagePopulation?: Record<string, { _officialStatus?: string }> }
  >;
  currencyRegions: Record<
    string,
    Array<Record<string, { _from?: string; _to?: string; _tender?: string }>>
  >;
  territoryNames: Record<string, string>;
  languageNames: Record<string, string>;
  currencyNames: Record<string, { displayName?: string }>;
}

export function loadEmojiSources(withCountries: boolean): EmojiSources {
  const google = resolvePackage('emoji-datasource-google');
  const base = resolvePackage('emojibase-data');
  const packages = [google, base];
  const sources: EmojiSources = {
    packages,
    datasource: readJson<DatasourceEmoji[]>(path.join(google.dir, 'emoji.json')),
    imageDir: path.join(google.dir, 'img', 'google', '64'),
    emojibase: readJson<EmojibaseEntry[]>(path.join(base.dir, 'zh', 'data.json')),
    groups: readJson<EmojibaseGroups>(path.join(base.dir, 'meta', 'groups.json')),
  };
  if (withCountries) {
    const core = resolvePackage('cldr-core');
    const names = resolvePackage('cldr-localenames-full');
    const numbers = resolvePackage('cldr-numbers-full');
    packages.push(core, names, numbers);
    const sup = path.join(core.dir, 'supplemental');
    sources.cldr = {
      containment: readJson<{ supplemental: { territoryContainment: CldrSources['containment'] } }>(
        path.join(sup, 'territoryContainment.json'),
      ).supplemental.territoryContainment,
      territoryInfo: readJson<{ supplemental: { territoryInfo: CldrSources['territoryInfo'] } }>(
        path.join(sup, 'territoryInfo.json'),
      ).supplemental.territoryInfo,
      currencyRegions: readJson<{
        supplemental: { currencyData: { region: CldrSources['currencyRegions'] } };
      }>(path.join(sup, 'currencyData.json')).supplemental.currencyData.region,
      territoryNames: readJson<{
        main: { zh: { localeDisplayNames: { territories: Record<string, string> } } };
      }>(path.join(names.dir, 'main', 'zh', 'territories.json')).main.zh.localeDisplayNames
        .territories,
      languageNames: readJson<{
        main: { zh: { localeDisplayNames: { languages: Record<string, string> } } };
      }>(path.join(names.dir, 'main', 'zh', 'languages.json')).main.zh.localeDisplayNames.languages,
      currencyNames: readJson<{
        main: { zh: { numbers: { currencies: CldrSources['currencyNames'] } } };
      }>(path.join(numbers.dir, 'main', 'zh', 'currencies.json')).main.zh.numbers.currencies,
    };
  }
  return sources;
}

/** Reads a package's license file text (for NOTICE); empty string when the package ships none. */
export function licenseText(pkg: SourcePackage): string {
  for (const name of ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'license']) {
    const file = path.join(pkg.dir, name);
    if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  }
  return '';
}
