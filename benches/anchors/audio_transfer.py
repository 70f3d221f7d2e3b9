"""PyTorch anchor for `fresco audio`: the same algorithm, filters' shape and
scale, sizes and evaluation budget, to time side by side on one machine.

Usage: python3 audio_transfer.py CONTENT.wav STYLE.wav [EVALS] [FILTERS]
Prints seconds of compute per second of audio, for the optimisation and for
Griffin-Lim, and the final losses. Two threads, as the CPU benchmarks use.
(The filters are drawn by PyTorch's generator: their values differ from
fresco's, their count, width and distribution do not.)"""
import sys, time, wave
import numpy as np
import torch

torch.set_num_threads(2)
torch.manual_seed(0)
N_FFT, HOP, WIDTH, GL_ITERS = 2048, 512, 11, 300
EVALS = int(sys.argv[3]) if len(sys.argv) > 3 else 200
FILTERS = int(sys.argv[4]) if len(sys.argv) > 4 else 4096


def read(path):
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getframerate() == 22050, "16-bit 22050 Hz mono expected"
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
        return torch.from_numpy(x.reshape(-1, w.getnchannels()).mean(axis=1))


window = torch.hann_window(N_FFT)
stft = lambda x: torch.stft(x, N_FFT, HOP, window=window, center=True, pad_mode="constant", return_complex=True)
spectrogram = lambda x: torch.log1p(stft(x).abs())[None, :, None, :]  # [1, bins, 1, frames]

content, style = read(sys.argv[1]), read(sys.argv[2])
# Both brought to RMS 0.1, as fresco does.
content, style = (x * (0.1 / x.pow(2).mean().sqrt()) for x in (content, style))
bins = N_FFT // 2 + 1
std = np.sqrt(2) * np.sqrt(2.0 / ((bins + FILTERS) * WIDTH))
kernel = torch.randn(FILTERS, bins, 1, WIDTH) * std
features = lambda s: torch.relu(torch.nn.functional.conv2d(s, kernel, padding=(0, WIDTH // 2)))


def gram(f):
    c, m = f.shape[1], f.shape[2] * f.shape[3]
    f = f.reshape(c, m)
    return f @ f.t() / (c * m)


with torch.no_grad():
    sc, ss = spectrogram(content), spectrogram(style)
    content_target, style_target = features(sc), gram(features(ss))
    wc, ws = 1.0 / content_target.pow(2).mean(), 10.0 / style_target.pow(2).mean()
x = sc.clone().contiguous().requires_grad_(True)
opt = torch.optim.LBFGS([x], lr=1, max_iter=EVALS, max_eval=EVALS, history_size=10,
                        tolerance_grad=0, tolerance_change=0, line_search_fn="strong_wolfe")
losses = []


def closure():
    opt.zero_grad()
    with torch.no_grad():
        x.clamp_(min=0)
    f = features(x)
    lc = wc * (f - content_target).pow(2).mean()
    ls = ws * (gram(f) - style_target).pow(2).mean()
    loss = lc + ls
    loss.backward()
    losses.append((lc.item(), ls.item()))
    return loss


start = time.time()
opt.step(closure)
optimise = time.time() - start
magnitude = torch.expm1(x.detach()[0, :, 0, :]).clamp(min=0)
start = time.time()
length = len(content)
spectrum = magnitude * torch.exp(2j * np.pi * torch.rand(magnitude.shape))
previous = None
for _ in range(GL_ITERS):
    projected = stft(torch.istft(spectrum, N_FFT, HOP, window=window, center=True, length=length))
    accelerated = projected if previous is None else projected + 0.99 * (projected - previous)
    spectrum = magnitude * torch.exp(1j * torch.angle(accelerated))
    previous = projected
signal = torch.istft(spectrum, N_FFT, HOP, window=window, center=True, length=length)
griffin_lim = time.time() - start
seconds = length / 22050
print(f"evaluations {len(losses)} content {losses[-1][0]:.4g} style {losses[-1][1]:.4g}")
print(f"optimise_s {optimise:.2f} s_per_evaluation {optimise / len(losses):.4f} griffin_lim_s {griffin_lim:.2f}")
print(f"compute_s_per_audio_s {(optimise + griffin_lim) / seconds:.3f}")
