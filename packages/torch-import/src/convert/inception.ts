/**
 * pytorch-fid's FID InceptionV3 (`pt_inception-2015-12-05-6726825d.pth`, torchvision key names) ->
 * eval-fid's FidInceptionV3 weights in tfjs layout (its `fromCheckpoint` reads them): every
 * BasicConv2d's kernel OIHW -> HWIO and its four batch-norm vectors as they are. The classifier
 * (`fc.*`), the auxiliary head and the batch counters are dropped, as pytorch-fid never uses them.
 */
import { FID_INCEPTION_CONVS } from '@artist-ts/eval-fid';
import type { IgnoreRule, MappingRow } from './plan';

/** A BasicConv2d: torch prefix, channels, kernel size. */
export interface InceptionConvSpec {
  name: string;
  cin: number;
  cout: number;
  kh: number;
  kw: number;
}

export const INCEPTION_IGNORE: readonly IgnoreRule[] = [
  { pattern: /^fc\./, reason: 'ImageNet classifier: FID uses the pool3 features before it' },
  { pattern: /^AuxLogits\./, reason: 'auxiliary training head: not on the feature path' },
  { pattern: /\.num_batches_tracked$/, reason: 'batch-norm step counter: not used at inference' },
];

const BN = ['bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var'];

/** The conv layers of eval-fid's FidInceptionV3 (or a given subset/variant). */
export function inceptionPlan(
  convs: readonly InceptionConvSpec[] = FID_INCEPTION_CONVS,
): MappingRow[] {
  const rows: MappingRow[] = [];
  for (const s of convs) {
    rows.push({
      name: `${s.name}.conv.weight`,
      sourceKey: `${s.name}.conv.weight`,
      sourceShape: [s.cout, s.cin, s.kh, s.kw],
      transform: 'conv_oihw_to_hwio',
    });
    for (const b of BN)
      rows.push({
        name: `${s.name}.${b}`,
        sourceKey: `${s.name}.${b}`,
        sourceShape: [s.cout],
        transform: 'identity',
      });
  }
  return rows;
}
