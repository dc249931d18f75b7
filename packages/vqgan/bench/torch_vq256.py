# PyTorch peer of bench/vq256_bench.ts: EasyNLP's VQModel (taming f16-16384) at 256x256, encode (image ->
# 256 codes) and decode, batch B, best of two passes. SRC: a folder with EasyNLP's vqgan.py. Never a
# project dependency, never in CI.  Run: SRC=<dir> python3 torch_vq256.py B [threads]
import sys, os, time, resource, json
sys.path.insert(0, os.environ['SRC'])
import torch
from vqgan import VQModel
B = int(sys.argv[1]); threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(threads); torch.manual_seed(0)
vq = VQModel().eval(); x = torch.rand(B, 3, 256, 256) * 2 - 1
best = {'encode_s': float('inf'), 'decode_s': float('inf')}
with torch.no_grad():
    for rep in range(2):
        t0 = time.perf_counter(); q, _, info = vq.encode(x); te = time.perf_counter() - t0
        t0 = time.perf_counter(); y = vq.decode(q); td = time.perf_counter() - t0
        best = {'encode_s': min(best['encode_s'], te), 'decode_s': min(best['decode_s'], td)}
best['peak_rss_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
best['threads'] = threads
print(json.dumps(best))
