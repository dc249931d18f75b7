/**
 * Text -> images with a run folder (or explicit checkpoint paths): tokenize each caption once,
 * match its entities against the run's lexicon (lattice-data), sample VQ codes with GPT-knowl,
 * decode with the VQGAN. The eval stage generates through this class too, so evaluation and
 * generation share one text path.
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
  encodePng,
  expandLattice,
  type Lattice,
  type Lexicon,
  latticesOfTokens,
  loadEntityLexicon,
  type NeighbourTable,
  readNeighbourTable,
  Vocab,
} from '@artist-ts/lattice-data';
import { Vqgan } from '@artist-ts/vqgan';
import { RunLayout } from './run_layout';

/** Where a generator's pieces live. A run folder fills all of them. */
export interface GeneratorPaths {
  gpt: string;
  vqgan: string;
  vocab: string;
  /** Folder with entity2id.txt + entity_vectors.bin (TransE output); null: no knowledge. */
  entities: string | null;
  /**
   * The run's one-hop neighbour table (`lattice/neighbours.tsv`) when it was trained with knowledge
   * expansion: captions are expanded the same way. Absent or null: no expansion.
   */
  neighbours?: string | null;
}

/** The generator's pieces in a run folder; names the first one missing. */
export function pathsOfRun(runDir: string): GeneratorPaths {
  const run = new RunLayout(runDir);
  const paths: GeneratorPaths = {
    gpt: run.gpt.checkpoint,
    vqgan: run.vqgan.checkpoint,
    vocab: run.lattice.vocab,
    entities: fs.existsSync(run.kg.entity2id) ? run.kg.vectors : null,
    neighbours: fs.existsSync(run.lattice.neighbours) ? run.lattice.neighbours : null,
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

/** Sampling options of {@link Generator.generate} (defaults: gpt-knowl's DEFAULT_SAMPLE_CONFIG). */
export interface GenerateOptions extends Partial<Omit<SampleConfig, 'numSamples'>> {
  /** Images per text (EasyNLP `max_generated_num`; default 1). */
  numImages?: number;
  /** 'rgb' (default): `pixels`, [size, size, 3] uint8; 'png': `png`, encoded PNG bytes. */
  format?: 'rgb' | 'png';
  signal?: AbortSignal;
  /** Called after every sampled token position of every batch. */
  onProgress?: (p: GenerateProgress) => void;
}

export interface GenerateProgress {
  /** Image tokens sampled so far, over all images. */
  tokens: number;
  totalTokens: number;
  /** Images whose codes are complete. */
  images: number;
  totalImages: number;
  tokensPerSecond: number;
}

interface ImageOf {
  /** Index of the text in the `texts` given to generate(). */
  textIndex: number;
  /** 0 .. numImages-1 */
  sample: number;
  width: number;
  height: number;
}

export interface GeneratedImage extends ImageOf {
  /** [height, width, 3] uint8 RGB */
  pixels: Uint8Array;
}

export interface GeneratedPng extends ImageOf {
  png: Uint8Array;
}

/** A caption as the GPT sees it: token ids (truncated/padded to textLen) and its entity lattice. */
export interface EncodedText {
  ids: Int32Array;
  /** null when the model uses no knowledge (fusion 'none', or no entity table). */
  lattice: Lattice | null;
  /**
   * Leading lattice entries that are entities matched in the caption; the rest is the knowledge
   * the run's one-hop expansion attached to them (what compositional sampling composes).
   */
  matched: number;
}

/** A loaded generator. Owns its models: call `dispose()`. */
export class Generator {
  private constructor(
    readonly gpt: KnowlGpt,
    readonly vqgan: Vqgan,
    readonly tokenizer: BertTokenizer,
    readonly lexicon: Lexicon | null,
    readonly entityTable: EntityTable | undefined,
    /** One-hop knowledge expansion of matched entities (null: none). */
    readonly neighbours: NeighbourTable | null = null,
  ) {}

  /** Loads a run folder (`runs/<name>`) or explicit checkpoint paths, checking they fit together. */
  static async load(source: string | GeneratorPaths): Promise<Generator> {
    const paths = typeof source === 'string' ? pathsOfRun(source) : source;
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
      let neighbours: NeighbourTable | null = null;
      if (paths.entities && gpt.config.fusion !== 'none') {
        if (paths.neighbours) neighbours = await readNeighbourTable(paths.neighbours);
        const ent = await loadEntityVectors(paths.entities);
        // entity2id.txt of kg-embedding's output folder: the names the lexicon matches.
        lexicon = (await loadEntityLexicon(path.join(paths.entities, 'entity2id.txt'))).lexicon;
        table = { vectors: ent.vectors, numEntities: ent.names.length, dim: ent.dim };
      }
      return new Generator(gpt, vqgan, tokenizer, lexicon, table, neighbours);
    } catch (err) {
      gpt.dispose();
      vqgan?.dispose();
      throw err;
    }
  }

  get imageSize(): number {
    return this.vqgan.config.resolution;
  }

  /** Token ids and entity lattices of captions, as at training time (each tokenized once). */
  encodeTexts(texts: readonly string[]): EncodedText[] {
    const tokens = texts.map((t) => this.tokenizer.tokenize(t));
    const lattices = this.lexicon ? latticesOfTokens(tokens, this.lexicon) : null;
    const nb = this.neighbours;
    return tokens.map((t, i) => ({
      ids: this.tokenizer.tokensToIds(t),
      lattice: lattices ? (nb ? expandLattice(lattices[i], nb) : lattices[i]) : null,
      matched: lattices ? lattices[i].lexIds.length : 0,
    }));
  }

  /** `numImages` images per text, text-major (text 0's images first). */
  async generate(
    texts: readonly string[],
    options: GenerateOptions & { format: 'png' },
  ): Promise<GeneratedPng[]>;
  async generate(
    texts: readonly string[],
    options?: GenerateOptions & { format?: 'rgb' },
  ): Promise<GeneratedImage[]>;
  async generate(
    texts: readonly string[],
    options: GenerateOptions = {},
  ): Promise<GeneratedImage[] | GeneratedPng[]> {
    const { numImages = 1, format = 'rgb', signal, onProgress, ...sample } = options;
    const encoded = this.encodeTexts(texts);
    const imageLen = this.gpt.config.imageLen;
    const totalImages = texts.length * numImages;
    let tokens = 0;
    let images = 0;
    const result = await sampleCodes(
      this.gpt,
      {
        texts: encoded.map((e) => e.ids),
        lattices: encoded.map((e) => e.lattice),
        matchedEntities: encoded.map((e) => e.matched),
        entityTable: this.entityTable,
      },
      { ...sample, numSamples: numImages },
      {
        signal,
        onToken: (p) => {
          tokens += p.images;
          if (p.token === p.imageLen) images += p.images;
          onProgress?.({
            tokens,
            totalTokens: totalImages * imageLen,
            images,
            totalImages,
            tokensPerSecond: tokens / Math.max(1e-3, p.elapsedMs / 1000),
          });
        },
      },
    );
    const size = this.imageSize;
    const per = size * size * 3;
    const pixels = await this.vqgan.decodeToPixels(result.codes, { batchSize: 16 });
    const of = (i: number): ImageOf => ({
      textIndex: result.textIndex[i],
      sample: result.sampleIndex[i],
      width: size,
      height: size,
    });
    if (format === 'png') {
      const out: GeneratedPng[] = [];
      for (let i = 0; i < result.codes.length; i++) {
        const data = pixels.subarray(i * per, (i + 1) * per);
        out.push({
          ...of(i),
          png: await encodePng({ data, width: size, height: size, channels: 3 }),
        });
      }
      return out;
    }
    return result.codes.map((_, i) => ({ ...of(i), pixels: pixels.slice(i * per, (i + 1) * per) }));
  }

  dispose(): void {
    this.gpt.dispose();
    this.vqgan.dispose();
  }
}
