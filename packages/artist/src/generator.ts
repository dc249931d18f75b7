/**
 * Text -> images with a run folder (or explicit checkpoint paths): tokenize, match entities against
 * the run's lexicon, sample VQ codes with GPT-knowl, decode with the VQGAN.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  type EntityTable,
  type KnowlGpt,
  loadGpt,
  type SampleConfig,
  sampleCodes,
} from '@artist-ts/gpt-knowl';
import { loadEntityVectors } from '@artist-ts/kg-embedding';
import {
  BertTokenizer,
  type Lattice,
  type Lexicon,
  latticeOfTokens,
  loadEntityLexicon,
  Vocab,
} from '@artist-ts/lattice-data';
import { Vqgan } from '@artist-ts/vqgan';

/** Where a generator's pieces live. A run folder fills all of them. */
export interface GeneratorPaths {
  gpt: string;
  vqgan: string;
  vocab: string;
  /** Folder with entity2id.txt + entity_vectors.bin (TransE output); null: no knowledge. */
  entities: string | null;
}

export function pathsOfRun(runDir: string): GeneratorPaths {
  const p = (...parts: string[]) => path.join(runDir, ...parts);
  const paths: GeneratorPaths = {
    gpt: p('gpt', 'checkpoint'),
    vqgan: p('vqgan', 'checkpoint'),
    vocab: p('lattice', 'vocab.txt'),
    entities: fs.existsSync(p('kg', 'vectors', 'entity2id.txt')) ? p('kg', 'vectors') : null,
  };
  for (const [field, file] of Object.entries(paths)) {
    if (file !== null && !fs.existsSync(file)) {
      throw new Error(
        `${file}: missing (run folder ${runDir} has no ${field}; has the run finished its stages?)`,
      );
    }
  }
  return paths;
}

export interface GeneratedImage {
  textIndex: number;
  sample: number;
  /** [size, size, 3] uint8 */
  pixels: Uint8Array;
}

export interface GenerateProgress {
  image: number;
  images: number;
  tokensPerSecond: number;
}

/** A loaded generator. Owns its models: call `dispose()`. */
export class Generator {
  private constructor(
    readonly gpt: KnowlGpt,
    readonly vqgan: Vqgan,
    readonly tokenizer: BertTokenizer,
    readonly lexicon: Lexicon | null,
    readonly entityTable: EntityTable | undefined,
  ) {}

  static async load(paths: GeneratorPaths): Promise<Generator> {
    const vocab = Vocab.fromFile(paths.vocab);
    const gpt = await loadGpt(paths.gpt);
    let vqgan: Vqgan | null = null;
    try {
      vqgan = await Vqgan.load(paths.vqgan);
      const [gh, gw] = vqgan.codeShape;
      if (gh * gw !== gpt.config.imageLen || vqgan.config.nEmbed !== gpt.config.imageVocabSize) {
        throw new Error(
          `${paths.vqgan}: the VQGAN makes ${gh}x${gw} codes of ${vqgan.config.nEmbed}, the GPT expects ${gpt.config.imageLen} codes of ${gpt.config.imageVocabSize}`,
        );
      }
      if (vocab.size !== gpt.config.textVocabSize) {
        throw new Error(
          `${paths.vocab}: ${vocab.size} tokens, the GPT was trained with ${gpt.config.textVocabSize}`,
        );
      }
      const tokenizer = new BertTokenizer(vocab, { textLen: gpt.config.textLen });
      let lexicon: Lexicon | null = null;
      let table: EntityTable | undefined;
      if (paths.entities && gpt.config.fusion !== 'none') {
        lexicon = (await loadEntityLexicon(path.join(paths.entities, 'entity2id.txt'))).lexicon;
        const ent = await loadEntityVectors(paths.entities);
        table = { vectors: ent.vectors, numEntities: ent.names.length, dim: ent.dim };
      }
      return new Generator(gpt, vqgan, tokenizer, lexicon, table);
    } catch (err) {
      gpt.dispose();
      vqgan?.dispose();
      throw err;
    }
  }

  get imageSize(): number {
    return this.vqgan.config.resolution;
  }

  /** Token ids and entity lattice of a caption, as at training time. */
  encodeText(text: string): { ids: Int32Array; lattice: Lattice | null } {
    const tokens = this.tokenizer.tokenize(text);
    const ids = this.tokenizer.tokensToIds(tokens);
    return { ids, lattice: this.lexicon ? latticeOfTokens(tokens, this.lexicon) : null };
  }

  /** `numSamples` images per text, text-major. */
  async generate(
    texts: string[],
    sample: Partial<SampleConfig> = {},
    options: { onImage?: (p: GenerateProgress) => void; signal?: AbortSignal } = {},
  ): Promise<GeneratedImage[]> {
    const encoded = texts.map((t) => this.encodeText(t));
    const perImage = this.gpt.config.imageLen;
    let tokens = 0;
    const result = await sampleCodes(
      this.gpt,
      {
        texts: encoded.map((e) => e.ids),
        lattices: encoded.map((e) => e.lattice),
        entityTable: this.entityTable,
      },
      sample,
      {
        signal: options.signal,
        onToken: (p) => {
          tokens += p.images;
          if (p.token === p.imageLen) {
            options.onImage?.({
              image: Math.round(tokens / perImage),
              images: texts.length * (sample.numSamples ?? 1),
              tokensPerSecond: tokens / Math.max(1e-3, p.elapsedMs / 1000),
            });
          }
        },
      },
    );
    const size = this.imageSize;
    const per = size * size * 3;
    const pixels = await this.vqgan.decodeToPixels(result.codes, { batchSize: 16 });
    return result.codes.map((_, i) => ({
      textIndex: result.textIndex[i],
      sample: result.sampleIndex[i],
      pixels: pixels.slice(i * per, (i + 1) * per),
    }));
  }

  dispose(): void {
    this.gpt.dispose();
    this.vqgan.dispose();
  }
}
