# PyTorch peer of `artist-generate` at ARTIST-base size, for packages/artist/bench/artist_base_bench.ts.
# EasyNLP's own GPT_knowl + VQModel classes (SRC: a folder with EasyNLP's modeling_artist_knowl.py, its
# relative import of top_k_top_p_filtering removed, and vqgan.py); never a project dependency, never in CI.
#   python3 torch_artist_generate.py make OUT          random weights -> OUT/pytorch_model.bin (EasyNLP layout)
#   python3 torch_artist_generate.py generate OUT [threads] [n]
#       one whole command: import, build, load OUT/pytorch_model.bin, sample n images of 256 codes for a
#       32-token prompt with EasyNLP's KV-cached forward_with_past (top-k 100), decode with the VQGAN,
#       write PNGs; prints one JSON line of phase times.
import sys, os, time
t_start = time.perf_counter()
sys.path.insert(0, os.environ['SRC'])
import json, types, resource
import numpy as np, torch
torch.Tensor.cuda = lambda self, *a, **k: self
from modeling_artist_knowl import GPT_knowl
from vqgan import VQModel
import struct, zlib

mode, out = sys.argv[1], sys.argv[2]
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
n = int(sys.argv[4]) if len(sys.argv) > 4 else 1
torch.set_num_threads(threads)
cfg = types.SimpleNamespace(vocab_size=37512, img_vocab_size=16384, text_vocab_size=21128, block_size=288,
    n_layer=12, n_head=12, n_embd=768, embd_pdrop=0., resid_pdrop=0., attn_pdrop=0., n_unmasked=0)
ck = os.path.join(out, 'pytorch_model.bin')
if mode == 'make':
    torch.manual_seed(0)
    g, vq = GPT_knowl(cfg), VQModel()
    with torch.no_grad():
        for p in vq.parameters(): p.add_(torch.randn_like(p) * 0.01)
    os.makedirs(out, exist_ok=True)
    sd = {('transformer.' + k): v for k, v in g.state_dict().items()}
    sd.update({('first_stage_model.' + k): v for k, v in vq.state_dict().items()})
    torch.save(sd, ck + '.tmp'); os.replace(ck + '.tmp', ck)
    sys.exit(0)

t0 = time.perf_counter()
g, vq = GPT_knowl(cfg).eval(), VQModel().eval()
sd = torch.load(ck, map_location='cpu')
g.load_state_dict({k[12:]: v for k, v in sd.items() if k.startswith('transformer.')})
vq.load_state_dict({k[18:]: v for k, v in sd.items() if k.startswith('first_stage_model.')})
del sd
res = {'threads': threads, 'n': n, 'torch': torch.__version__, 'import_s': t0 - t_start,
       'load_s': time.perf_counter() - t0}
torch.manual_seed(1)
text = (torch.arange(101, 133).view(1, 32) + 16384).repeat(n, 1)
def top_k(lo, k=100):
    v, _ = torch.topk(lo, k); lo = lo.clone(); lo[lo < v[..., [-1]]] = -float('inf'); return lo
with torch.no_grad():
    t0 = time.perf_counter(); codes = []
    lo, _, present = g.forward_with_past(text); past = [present]
    for k in range(256):
        ix = torch.multinomial(torch.softmax(top_k(lo[:, -1, :16384]), -1), 1); codes.append(ix)
        if k == 255: break
        lo, _, present = g.forward_with_past(ix, past=past, past_length=32 + k); past.append(present)
    res['sample_s'] = time.perf_counter() - t0
    res['tokens_per_s'] = n * 256 / res['sample_s']
    t0 = time.perf_counter()
    idx = torch.cat(codes, 1)
    q = vq.quantize.get_codebook_entry(idx.reshape(-1), shape=(n, 16, 16, 256))
    img = vq.decode(q)
    res['decode_s'] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pix = ((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    def png(a):  # 8-bit RGB PNG, filter 0 on every row (what a minimal encoder writes)
        raw = b''.join(b'\x00' + a[y].tobytes() for y in range(a.shape[0]))
        chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
        return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', a.shape[1], a.shape[0], 8, 2, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b''))
    for i in range(n): open(os.path.join(out, f'torch_{i}.png'), 'wb').write(png(pix[i]))
    res['png_s'] = time.perf_counter() - t0
res['peak_rss_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
res['whole_s'] = time.perf_counter() - t_start
print(json.dumps(res))
