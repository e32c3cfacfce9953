"""The hand-written sRGB -> CIE L*a*b* and CIEDE2000 against scikit-image and the published test pairs."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant.quality import ciede2000, srgb_to_lab

# Sharma, Wu and Dalal (2005), Table 1: (L1, a1, b1), (L2, a2, b2), ΔE00 to four decimals.
SHARMA_PAIRS = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -1.1848, -84.8006), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -0.9009, -85.5211), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0012), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0010, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2972, 0.0000), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 1.8634, 0.5757), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def _hard_colours(n_random: int, seed: int) -> np.ndarray:
    """sRGB rows in [0, 1]: random ones, every 8-bit gray (black and white included), the primaries and
    secondaries (the largest chroma sRGB has), and values at both sides of the two piecewise thresholds."""
    rng = np.random.default_rng(seed)
    grays = np.repeat(np.arange(256)[:, None] / 255.0, 3, axis=1)
    corners = np.array([[r, g, b] for r in (0, 1) for g in (0, 1) for b in (0, 1)], np.float64)
    # 0.04045 is the sRGB curve's knee; Y/Yn = 0.008856 (L* = 8) is CIELAB's, reached at a gray of ~0.0996.
    knees = np.array([0.04045, 0.0996], np.float64)[:, None] + np.array([-1e-9, 0.0, 1e-9])[None, :]
    near_knees = np.repeat(knees.reshape(-1, 1), 3, axis=1)
    return np.concatenate([rng.uniform(0.0, 1.0, (n_random, 3)), grays, corners, near_knees])


def test_srgb_to_lab_matches_scikit_image():
    from skimage.color import rgb2lab

    rgb = _hard_colours(5000, 0)
    np.testing.assert_allclose(srgb_to_lab(rgb), rgb2lab(rgb[None])[0], rtol=1e-9, atol=1e-10)
    # Not the feature space's conversion, whose white point (the matrix's row sums) makes grays exactly neutral:
    # scikit-image's D65 white leaves sRGB white a few thousandths off the neutral axis, and so does ours.
    from napari_colorquant.colorspaces import rgb_to_lab

    white = srgb_to_lab(np.ones(3))
    assert white[0] == pytest.approx(100.0, rel=1e-12) and 1e-3 < np.abs(white[1:]).max() < 5e-3
    assert rgb_to_lab(np.full((1, 3), 255.0), 255.0)[0].tolist() == [100.0, 0.0, 0.0]
    assert srgb_to_lab(np.zeros((2, 3))).tolist() == [[0.0, 0.0, 0.0]] * 2


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA_PAIRS)
def test_ciede2000_matches_the_published_pairs(lab1, lab2, expected):
    from skimage.color import deltaE_ciede2000

    ours = float(ciede2000(np.array(lab1), np.array(lab2)))
    assert ours == pytest.approx(expected, abs=5e-5)  # the table's four decimals
    assert ours == pytest.approx(float(deltaE_ciede2000(np.array(lab1), np.array(lab2))), rel=1e-9)
    assert float(ciede2000(np.array(lab2), np.array(lab1))) == pytest.approx(ours, rel=1e-12)  # symmetric


def test_ciede2000_of_all_published_pairs_at_once():
    lab1 = np.array([pair[0] for pair in SHARMA_PAIRS])
    lab2 = np.array([pair[1] for pair in SHARMA_PAIRS])
    expected = np.array([pair[2] for pair in SHARMA_PAIRS])
    np.testing.assert_allclose(ciede2000(lab1, lab2), expected, atol=5e-5)


def test_ciede2000_matches_scikit_image_on_hard_colours():
    from skimage.color import deltaE_ciede2000

    first = srgb_to_lab(_hard_colours(20000, 1))
    second = srgb_to_lab(_hard_colours(20000, 2))
    rng = np.random.default_rng(3)
    pairs = [(first, second), (first, second[::-1]), (first, first[rng.permutation(len(first))])]
    # Hues on both sides of 0/360 degrees and nearly opposite ones: the hue difference's and mean's wrap cases.
    angles = rng.uniform(0.0, 2.0 * np.pi, (4000, 2))
    angles[:1000, 1] = angles[:1000, 0] + np.pi + rng.uniform(-1e-3, 1e-3, 1000)
    angles[1000:2000] = rng.uniform(-0.3, 0.3, (1000, 2))
    chroma = rng.uniform(0.0, 130.0, (4000, 2))
    chroma[::7, 0] = 0.0  # one neutral colour: no hue difference, the mean hue is the other's
    lightness = rng.uniform(0.0, 100.0, (4000, 2))
    polar = [np.stack([lightness[:, i], chroma[:, i] * np.cos(angles[:, i]), chroma[:, i] * np.sin(angles[:, i])], 1)
             for i in (0, 1)]  # fmt: skip
    pairs.append((polar[0], polar[1]))
    for lab1, lab2 in pairs:
        ours, theirs = ciede2000(lab1, lab2), deltaE_ciede2000(lab1, lab2)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
        assert (ours >= 0).all() and np.isfinite(ours).all()
    assert (ciede2000(first, first) == 0).all()


@pytest.mark.parametrize("weights", [(2.0, 1.0, 1.0), (1.0, 1.5, 0.7)])
def test_ciede2000_parametric_weights_match_scikit_image(weights):
    from skimage.color import deltaE_ciede2000

    lab1, lab2 = srgb_to_lab(_hard_colours(2000, 4)), srgb_to_lab(_hard_colours(2000, 5))
    kL, kC, kH = weights
    expected = deltaE_ciede2000(lab1, lab2, kL=kL, kC=kC, kH=kH)
    np.testing.assert_allclose(ciede2000(lab1, lab2, kL, kC, kH), expected, rtol=1e-9, atol=1e-12)
    assert not np.allclose(ciede2000(lab1, lab2), expected)  # the weights change the result


def test_quality_module_imports_neither_scikit_image_nor_scipy():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from napari_colorquant.quality import delta_e_figures\n"
        "rows = np.array([[0, 0, 0], [255, 255, 255], [200, 30, 10]])\n"
        "print(delta_e_figures(rows, rows[::-1], np.ones(3), 255.0)[0] > 0)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'skimage'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "[]"]
