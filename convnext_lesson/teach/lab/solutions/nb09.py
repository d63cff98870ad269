"""Notebook 09 (FLOPs are not speed): graders and solutions."""
import math
import statistics
import time

from ..exercises import answered, exercise


def dwconv_intensity_solution(channels, size, kernel):
    macs = channels * kernel * kernel * size * size
    values = 2 * channels * size * size + channels * kernel * kernel  # input + output + weights
    return macs / (4 * values)  # float32: 4 bytes per value


@exercise("09.dwconv_intensity", "write dwconv_intensity(channels, size, kernel): MACs per byte of a "
          "depthwise kxk conv in float32 (input, output and weights moved once)", dwconv_intensity_solution)
def _grade(answer):
    for channels, size, kernel in ((96, 56, 7), (384, 14, 3), (768, 7, 11)):
        expected = dwconv_intensity_solution(channels, size, kernel)
        got = float(answered(answer(channels, size, kernel)))
        assert abs(got - expected) <= 1e-6 * expected, (
            f"for {channels} channels, {size}x{size}, kernel {kernel}: you get {got:.3f}, expected {expected:.3f}. "
            "MACs = C*k*k*H*W; bytes = 4 * (C*H*W in + C*H*W out + C*k*k weights)")


dwconv_intensity = dwconv_intensity_solution  # in the notebook: your function from the exercise before


def smallest_kernel_solution(target, channels=96, size=56):
    kernel = 1
    while dwconv_intensity(channels, size, kernel) < target:
        kernel += 2  # odd kernels only: a centred window
    return kernel


def _pwconv_intensity(channels, size, expansion=4):
    macs = channels * expansion * channels * size * size
    values = (channels + expansion * channels) * size * size + expansion * channels * channels
    return macs / (4 * values)


@exercise("09.smallest_kernel", "write smallest_kernel(target, channels=96, size=56): the smallest odd kernel "
          "whose depthwise conv reaches `target` MACs per byte", smallest_kernel_solution)
def _grade_smallest_kernel(answer):
    cases = ((_pwconv_intensity(96, 56), 96, 56), (5.0, 96, 56), (12.0, 96, 56), (3.0, 768, 7))
    for target, channels, size in cases:
        got = answered(answer(target, channels=channels, size=size))
        expected = smallest_kernel_solution(target, channels, size)
        assert got == expected, (
            f"for target {target:.2f} MACs/byte ({channels} channels, {size}x{size}) you say {got!r}; the smallest "
            f"odd kernel that reaches it is {expected}. Try kernels 1, 3, 5, ... with dwconv_intensity until one "
            "reaches the target")


def time_images_per_s_solution(run_once, images, repeats=5, warmup=1):
    for _ in range(warmup):
        run_once()  # the first calls pay for memory allocation and caches: not timed
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_once()
        rates.append(images / (time.perf_counter() - start))
    median = statistics.median(rates)
    return {"rates": rates, "median": median, "spread": (max(rates) - min(rates)) / median}


@exercise("09.time_images_per_s", "write time_images_per_s(run_once, images, repeats, warmup): call run_once "
          "`warmup` times untimed, then time `repeats` calls; return {'rates': [...], 'median': ..., "
          "'spread': (max - min) / median}", time_images_per_s_solution)
def _grade_time_images_per_s(answer):
    warmup_seconds, timed_seconds = 0.15, (0.05, 0.15, 0.10)  # a slow first call, as a real warm-up
    calls = []

    def run_once():  # stands in for a network: each call sleeps a known time
        calls.append(None)
        k = len(calls) - 1
        time.sleep(warmup_seconds if k == 0 else timed_seconds[(k - 1) % len(timed_seconds)])

    result = answered(answer(run_once, 32, repeats=3, warmup=1))
    assert isinstance(result, dict) and {"rates", "median", "spread"} <= set(result), (
        f"return a dict with keys 'rates', 'median' and 'spread'; you return {type(result).__name__}")
    assert len(calls) == 4, f"run_once was called {len(calls)} times; with warmup=1, repeats=3 it should be 4"
    rates = [float(r) for r in result["rates"]]
    assert len(rates) == 3, f"{len(rates)} rates for 3 repeats: time only the repeats, one rate each"
    for k, (rate, seconds) in enumerate(zip(rates, timed_seconds)):
        fastest = 32 / seconds  # a call that sleeps `seconds` cannot take less
        assert 0.2 * fastest < rate <= 1.01 * fastest, (
            f"repeat {k + 1} took at least {seconds} s for 32 images, so its rate is at most {fastest:.0f} "
            f"images/s; you give {rate:.1f}. Rate = images / seconds of that one call (time.perf_counter)")
    median = statistics.median(rates)
    assert math.isclose(float(result["median"]), median, rel_tol=1e-9), (
        f"median {result['median']!r}, but the median of your rates is {median!r} (statistics.median)")
    spread = (max(rates) - min(rates)) / median
    assert math.isclose(float(result["spread"]), spread, rel_tol=1e-9), (
        f"spread {result['spread']!r}; (max - min) / median of your rates is {spread!r}")
