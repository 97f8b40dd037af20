#!/usr/bin/env python3
"""Same-machine speed reference for bench_train: the YOLOv8 n/s network (Ultralytics' layer layout, 1 class) trained
in Python PyTorch, batch 16 at 256 px: forward + a proxy loss + backward + SGD step every 4 batches + per-tensor EMA.
No data loading, no assigner/loss: a lower bound on what Ultralytics spends per batch on the same machine and library,
so `images/s` here is an upper bound on Ultralytics' training throughput there.

    /usr/bin/python3 tools/pytorch_train_step_ref.py n 2 12    # variant, threads, timed batches
    /usr/bin/python3 tools/pytorch_train_step_ref.py n 2 20 640 infer   # batch-1 eval forward at 640 px (ms/image)
Needs Debian's python3-torch (not a project dependency)."""
import sys, time, copy, torch, torch.nn as nn
class Conv(nn.Module):
    def __init__(s, c1, c2, k=1, st=1, act=True):
        super().__init__(); s.conv = nn.Conv2d(c1, c2, k, st, k // 2, bias=False); s.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03); s.act = nn.SiLU() if act else nn.Identity()
    def forward(s, x): return s.act(s.bn(s.conv(x)))
class Bott(nn.Module):
    def __init__(s, c, sc=True):
        super().__init__(); s.cv1 = Conv(c, c, 3); s.cv2 = Conv(c, c, 3); s.add = sc
    def forward(s, x): return x + s.cv2(s.cv1(x)) if s.add else s.cv2(s.cv1(x))
class C2f(nn.Module):
    def __init__(s, c1, c2, n=1, sc=False):
        super().__init__(); s.c = c2 // 2; s.cv1 = Conv(c1, 2 * s.c, 1); s.cv2 = Conv((2 + n) * s.c, c2, 1); s.m = nn.ModuleList(Bott(s.c, sc) for _ in range(n))
    def forward(s, x):
        y = list(s.cv1(x).chunk(2, 1)); y.extend(m(y[-1]) for m in s.m); return s.cv2(torch.cat(y, 1))
class SPPF(nn.Module):
    def __init__(s, c1, c2):
        super().__init__(); c_ = c1 // 2; s.cv1 = Conv(c1, c_, 1, act=False); s.cv2 = Conv(c_ * 4, c2, 1); s.m = nn.MaxPool2d(5, 1, 2)
    def forward(s, x):
        y = [s.cv1(x)]; y.extend(s.m(y[-1]) for _ in range(3)); return s.cv2(torch.cat(y, 1))
class Det(nn.Module):
    def __init__(s, nc, ch):
        super().__init__(); c2 = max(16, ch[0] // 4, 64); c3 = max(ch[0], min(nc, 100))
        s.cv2 = nn.ModuleList(nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 64, 1)) for x in ch)
        s.cv3 = nn.ModuleList(nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for x in ch)
    def forward(s, xs): return [torch.cat((a(x), b(x)), 1) for x, a, b in zip(xs, s.cv2, s.cv3)]
class Y8(nn.Module):
    def __init__(s, w, d, mc, nc=1):
        super().__init__(); ch = lambda c: min(c, mc) * w; n = lambda k: max(round(k * d), 1); C = lambda c: int(ch(c))
        s.b0 = Conv(3, C(64), 3, 2); s.b1 = Conv(C(64), C(128), 3, 2); s.b2 = C2f(C(128), C(128), n(3), True)
        s.b3 = Conv(C(128), C(256), 3, 2); s.b4 = C2f(C(256), C(256), n(6), True); s.b5 = Conv(C(256), C(512), 3, 2)
        s.b6 = C2f(C(512), C(512), n(6), True); s.b7 = Conv(C(512), C(1024), 3, 2); s.b8 = C2f(C(1024), C(1024), n(3), True)
        s.b9 = SPPF(C(1024), C(1024)); s.up = nn.Upsample(None, 2, 'nearest')
        s.h12 = C2f(C(1024) + C(512), C(512), n(3)); s.h15 = C2f(C(512) + C(256), C(256), n(3))
        s.h16 = Conv(C(256), C(256), 3, 2); s.h18 = C2f(C(256) + C(512), C(512), n(3)); s.h19 = Conv(C(512), C(512), 3, 2)
        s.h21 = C2f(C(512) + C(1024), C(1024), n(3)); s.det = Det(nc, (C(256), C(512), C(1024)))
    def forward(s, x):
        x = s.b1(s.b0(x)); x = s.b2(x); p3 = s.b4(s.b3(x)); p4 = s.b6(s.b5(p3)); p5 = s.b9(s.b8(s.b7(p4)))
        h12 = s.h12(torch.cat((s.up(p5), p4), 1)); h15 = s.h15(torch.cat((s.up(h12), p3), 1))
        h18 = s.h18(torch.cat((s.h16(h15), h12), 1)); h21 = s.h21(torch.cat((s.h19(h18), p5), 1))
        return s.det([h15, h18, h21])
scales = {'n': (0.25, 0.33, 1024), 's': (0.5, 0.33, 1024)}
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(threads)
v = sys.argv[1] if len(sys.argv) > 1 else 'n'
m = Y8(*scales[v]); print(v, 'params', sum(p.numel() for p in m.parameters()))
if len(sys.argv) > 5 and sys.argv[5] == 'infer':
    sz = int(sys.argv[4]); m.eval(); x = torch.rand(1, 3, sz, sz); N = int(sys.argv[3])
    with torch.no_grad():  # fold BatchNorm into the convolutions, as Ultralytics' predict does
        for c in [mod for mod in m.modules() if isinstance(mod, Conv)]:
            f = c.bn.weight / torch.sqrt(c.bn.running_var + c.bn.eps)
            conv = nn.Conv2d(c.conv.in_channels, c.conv.out_channels, c.conv.kernel_size, c.conv.stride, c.conv.padding, bias=True)
            conv.weight.copy_(c.conv.weight * f.view(-1, 1, 1, 1)); conv.bias.copy_(c.bn.bias - c.bn.running_mean * f)
            c.conv, c.bn = conv, nn.Identity()
    with torch.no_grad():
        for _ in range(3): m(x)
        t = time.time()
        for _ in range(N): m(x)
    dt = (time.time() - t) / N
    print(f'{v} threads {threads}: eval forward batch 1 at {sz}: {1000 * dt:.1f} ms/image ({1 / dt:.1f} images/s)')
    sys.exit(0)
ema = copy.deepcopy(m).eval()
for p in ema.parameters(): p.requires_grad_(False)
opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.937, nesterov=True)
x = torch.rand(16, 3, 256, 256)
def step(i):
    out = m(x); loss = sum((o.float() ** 2).mean() for o in out); loss.backward()
    if i % 4 == 3:
        opt.step(); opt.zero_grad()
        with torch.no_grad():
            msd = m.state_dict()
            for k, e in ema.state_dict().items():
                if e.dtype.is_floating_point: e.mul_(0.999).add_(msd[k].detach(), alpha=0.001)
for i in range(4): step(i)
t = time.time(); N = int(sys.argv[3]) if len(sys.argv) > 3 else 12
for i in range(N): step(i)
dt = time.time() - t
print(f'{v} threads {threads}: {16 * N / dt:.1f} images/s  {1000 * dt / (16 * N):.1f} ms/image (forward+backward+SGD+EMA, no data/loss)')
