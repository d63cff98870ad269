"""Notebook 09 (FLOPs are not speed): graders and solutions."""
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
