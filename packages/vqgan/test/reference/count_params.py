"""Parameter and state-dict key counts of taming-transformers' VQModel (Encoder, Decoder, VectorQuantizer2, quant_conv,
post_quant_conv), following taming/modules/diffusionmodules/model.py's constructors. Independent of
the TypeScript code; its output is committed in test/model.test.ts.

    python3 test/reference/count_params.py
"""


KEYS = [0]  # state-dict keys created so far: every conv and norm has a weight and a bias


def conv(ci, co, k):
    KEYS[0] += 2
    return co * ci * k * k + co


def norm(c):
    KEYS[0] += 2
    return 2 * c


def resblock(ci, co):
    n = norm(ci) + conv(ci, co, 3) + norm(co) + conv(co, co, 3)
    if ci != co:
        n += conv(ci, co, 1)  # nin_shortcut
    return n


def attn(c):
    return norm(c) + sum(conv(c, c, 1) for _ in ('q', 'k', 'v', 'proj_out'))


def vqmodel(resolution, ch, ch_mult, num_res_blocks, attn_resolutions, z_channels, embed_dim,
            n_embed, in_channels=3, out_ch=3):
    levels = len(ch_mult)
    in_mult = (1,) + tuple(ch_mult)
    # Encoder
    KEYS[0] = 1  # quantize.embedding.weight
    n = conv(in_channels, ch, 3)
    res = resolution
    block_in = ch
    for i in range(levels):
        block_in = ch * in_mult[i]
        block_out = ch * ch_mult[i]
        for _ in range(num_res_blocks):
            n += resblock(block_in, block_out)
            block_in = block_out
            if res in attn_resolutions:
                n += attn(block_in)
        if i != levels - 1:
            n += conv(block_in, block_in, 3)  # Downsample
            res //= 2
    n += resblock(block_in, block_in) + resblock(block_in, block_in) + attn(block_in)  # mid
    n += norm(block_in) + conv(block_in, z_channels, 3)
    encoder = n
    # Decoder
    block_in = ch * ch_mult[-1]
    res = resolution // 2 ** (levels - 1)
    n = conv(z_channels, block_in, 3)
    n += resblock(block_in, block_in) + resblock(block_in, block_in) + attn(block_in)
    for i in reversed(range(levels)):
        block_out = ch * ch_mult[i]
        for _ in range(num_res_blocks + 1):
            n += resblock(block_in, block_out)
            block_in = block_out
            if res in attn_resolutions:
                n += attn(block_in)
        if i != 0:
            n += conv(block_in, block_in, 3)  # Upsample
            res *= 2
    n += norm(block_in) + conv(block_in, out_ch, 3)
    decoder = n
    rest = conv(z_channels, embed_dim, 1) + conv(embed_dim, z_channels, 1) + n_embed * embed_dim
    return encoder, decoder, rest, encoder + decoder + rest, KEYS[0]


PRESETS = {
    'nano': dict(resolution=32, ch=16, ch_mult=(1, 2, 2), num_res_blocks=1, attn_resolutions=(),
                 z_channels=32, embed_dim=32, n_embed=512),
    'small': dict(resolution=64, ch=64, ch_mult=(1, 1, 2, 4), num_res_blocks=1,
                  attn_resolutions=(8,), z_channels=64, embed_dim=64, n_embed=1024),
    'artist-base': dict(resolution=256, ch=128, ch_mult=(1, 1, 2, 2, 4), num_res_blocks=2,
                        attn_resolutions=(16,), z_channels=256, embed_dim=256, n_embed=16384),
    # the nano preset before 0.2 (chMult 1,2,4, attention at 8), for the changelog
    'nano-0.1': dict(resolution=32, ch=16, ch_mult=(1, 2, 4), num_res_blocks=1,
                     attn_resolutions=(8,), z_channels=32, embed_dim=32, n_embed=512),
}

if __name__ == '__main__':
    for name, cfg in PRESETS.items():
        enc, dec, rest, total, keys = vqmodel(**cfg)
        print(f'{name}: encoder {enc:,} decoder+codebook+1x1 {dec + rest:,} total {total:,}'
              f' keys {keys}')
