"""The shapes-text dataset against its definition: determinism, captions and images vs factors, the DAG, the
encoders, and a short training that makes the shared factors decodable."""

import colorsys

import numpy as np
import pytest
import torch

from mmcrl.config import ConfigError, dataset_spec, validate_config
from mmcrl.data import shapes_text
from mmcrl.data.kinds import write_dataset
from mmcrl.data.synthetic import load_dataset
from mmcrl.metrics import classification_accuracy, r2_per_latent
from mmcrl.models.encoders import build_encoder
from mmcrl.recover import recover_structure
from mmcrl.train import encode, fit

NAMES = shapes_text.FACTOR_NAMES


def spec(**fields):
    return dataset_spec("pics", **({"kind": "shapes-text", "n_train": 300, "n_val": 100, "n_test": 100} | fields))


def column(z, name):
    return z[:, NAMES.index(name)]


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        write_dataset(spec(), seed, tmp_path / name)
    files = sorted(path.name for path in (tmp_path / "a").iterdir())
    assert files == ["ground_truth.json", "manifest.json", "test.npz", "train.npz", "val.npz"]
    for file in files:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file
    assert (tmp_path / "a" / "train.npz").read_bytes() != (tmp_path / "c" / "train.npz").read_bytes()


def test_ground_truth_describes_pattern_factors_and_storage(tmp_path):
    write_dataset(spec(image_size=16), 0, tmp_path)
    dataset = load_dataset(tmp_path)
    truth = dataset.ground_truth
    assert truth["sharing_pattern"] == [[1, 1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0, 0, 1]]
    assert truth["subsets"] == [[0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 7]]
    assert truth["encoder_kinds"] == ["cnn", "text"]
    assert truth["observed_dims"] == [3 * 16 * 16, shapes_text.CAPTION_LENGTH]
    shared = [factor["name"] for factor in truth["factors"] if factor["shared"]]
    assert shared == ["shape", "x", "y", "object_hue"]
    discrete = {factor["name"]: factor["n_classes"] for factor in truth["factors"] if factor["type"] == "discrete"}
    assert discrete == {"shape": 4, "phrasing": len(shapes_text.TEMPLATES)}
    z, (images, tokens) = dataset.split("val")
    assert z.shape == (100, 8) and images.shape == (100, 768) and images.dtype == np.uint8
    assert tokens.shape == (100, shapes_text.CAPTION_LENGTH) and tokens.dtype == np.int64
    assert set(np.unique(column(z, "shape"))) <= {0.0, 1.0, 2.0, 3.0}


def test_captions_name_the_shape_position_and_nearest_colour():
    splits, _ = shapes_text.generate(spec(), 3)
    z, tokens = splits["train"]["z"], splits["train"]["x1"]
    colour_hues = 0.04 + 0.08 * np.arange(len(shapes_text.COLOUR_NAMES))
    for row, caption_tokens in zip(z, tokens, strict=True):
        text = shapes_text.detokenise(caption_tokens)
        named = dict(zip(NAMES, row, strict=True))
        colour = shapes_text.COLOUR_NAMES[int(np.argmin(np.abs(colour_hues - named["object_hue"])))]
        vertical = ("top", "upper", "middle", "lower", "bottom")[min(4, int(named["y"] * 5))]
        horizontal = ("far left", "left", "center", "right", "far right")[min(4, int(named["x"] * 5))]
        template = shapes_text.TEMPLATES[int(named["phrasing"])]
        expected = template.format(
            colour=colour, shape=shapes_text.SHAPES[int(named["shape"])], position=f"{vertical} {horizontal}"
        )
        assert text == expected


def test_images_show_the_object_where_and_in_the_colour_the_factors_say():
    splits, _ = shapes_text.generate(spec(pixel_noise=0.0, image_size=32), 5)
    z, images = splits["train"]["z"], splits["train"]["x0"].reshape(-1, 3, 32, 32).astype(float)
    margin = 0.26
    errors, hue_errors = [], []
    for row, image in zip(z[:100], images[:100], strict=True):
        named = dict(zip(NAMES, row, strict=True))
        background = np.array(colorsys.hsv_to_rgb(named["background_hue"], 0.45, 0.45)) * 255
        distance = np.abs(image - background[:, None, None]).sum(axis=0)
        rows, columns = np.nonzero(distance > 60)
        expected = 32 * (margin + (1 - 2 * margin) * np.array([named["x"], named["y"]])) - 0.5
        errors.append(np.abs(np.array([columns.mean(), rows.mean()]) - expected).max())
        inside = image[:, distance >= 0.95 * distance.max()].mean(axis=1)  # pixels wholly inside the object
        hue_errors.append(abs(colorsys.rgb_to_hsv(*(inside / 255))[0] - named["object_hue"]))
    assert np.median(errors) < 0.8 and np.max(errors) < 2.5
    assert np.median(hue_errors) < 0.02


def test_the_configured_dag_is_the_only_dependence():
    z = shapes_text.generate(spec(n_train=3000), 0)[0]["train"]["z"]
    correlation = np.corrcoef(z.T)
    assert correlation[NAMES.index("x"), NAMES.index("object_hue")] > 0.25
    assert correlation[NAMES.index("y"), NAMES.index("object_hue")] > 0.25
    assert correlation[NAMES.index("shape"), NAMES.index("size")] > 0.3
    assert abs(correlation[NAMES.index("x"), NAMES.index("rotation")]) < 0.06
    independent = shapes_text.generate(spec(n_train=3000, dag=[]), 0)[0]["train"]["z"]
    off_diagonal = np.corrcoef(independent.T)[~np.eye(8, dtype=bool)]
    assert np.abs(off_diagonal).max() < 0.06


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dag": [["x", "y"], ["y", "x"]]}, "cycle"),
        ({"dag": [["x", "colour"]]}, "datasets.pics.dag.0.1"),
        ({"n_latents": 3}, "unknown key"),
        ({"image_size": 48}, "image_size"),
        ({"kind": "blender"}, r"datasets.pics.kind: 'blender' is not one of \['synthetic', 'shapes-text'\]"),
        ({"kind": "synthetic"}, "'n_latents' is a required property"),
    ],
)
def test_bad_shapes_text_entries_are_refused(fields, message):
    with pytest.raises(ConfigError, match=message):
        validate_config({"datasets": {"pics": {"kind": "shapes-text", **fields}}})


@pytest.mark.parametrize("side", [16, 32, 64])
def test_encoders_map_stored_rows_to_k_coordinates(side):
    images = torch.randint(0, 256, (5, 3 * side * side), dtype=torch.uint8)
    cnn = build_encoder("cnn", 3 * side * side, 7, 32, 2)
    assert cnn(images).shape == (5, 7)
    assert torch.allclose(cnn(images), cnn(images.float()))
    tokens = torch.randint(0, len(shapes_text.VOCABULARY), (5, shapes_text.CAPTION_LENGTH))
    text = build_encoder("text", shapes_text.CAPTION_LENGTH, 5, 32, 2)
    assert text(tokens).shape == (5, 5)
    assert torch.allclose(text(tokens), text(tokens.float()))
    with pytest.raises(ValueError, match="not 3·H·H"):
        build_encoder("cnn", 3 * 30 * 30, 7, 32, 2)


def test_text_encoder_gives_every_parameter_a_gradient_but_the_padding_embedding():
    torch.manual_seed(0)
    text = build_encoder("text", shapes_text.CAPTION_LENGTH, 5, 16, 2)
    captions = ("a red star at the top left", "there is a blue square in the bottom center of the picture")
    tokens = torch.from_numpy(np.stack([shapes_text.tokenise(caption) for caption in captions * 2]))
    (text(tokens)[:, 0] * torch.tensor([1.0, 2.0, 3.0, 5.0])).sum().backward()
    # the output layer's bias is removed by the batch standardisation after it: its gradient is zero up to rounding
    # (exactly 0 on some CPUs, ~1e-9 on others)
    output_bias = f"head.{len(text.head) - 1}.bias"
    for name, parameter in text.named_parameters():
        if name == output_bias:
            assert parameter.grad.abs().max() < 1e-5, name
        else:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert text.embedding.weight.grad[0].abs().sum() == 0


def test_cnn_runs_channels_last_and_every_layer_gets_a_gradient():
    torch.manual_seed(0)
    cnn = build_encoder("cnn", 3 * 32 * 32, 7, 32, 2)
    images = torch.randint(0, 256, (6, 3 * 32 * 32), dtype=torch.uint8)
    cnn(images).square().sum().backward()
    for name, parameter in cnn.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    first = cnn.features[0]
    assert first.stride == (1, 1) and first.weight.is_contiguous(memory_format=torch.channels_last)
    reference = cnn.features.to(memory_format=torch.contiguous_format)
    cnn.eval()
    stacked = images.float().reshape(-1, 3, 32, 32) / 255.0 - 0.5
    expected = cnn.standardise(cnn.head(reference(stacked).flatten(1)))
    assert torch.allclose(cnn(images), expected, atol=1e-5)


def test_short_mcl_training_makes_the_shared_factors_decodable(tmp_path):
    torch.set_num_threads(1)
    write_dataset(spec(n_train=3000, n_val=600, n_test=600, image_size=16), 0, tmp_path)
    dataset = load_dataset(tmp_path)
    training = validate_config({"training": {"steps": 300, "batch_size": 128, "width": 64, "depth": 2}})["training"]
    model, _ = fit(dataset, "mcl", {}, training | {"device": "cpu", "log_every": 1000}, 0, "test")
    z_val, val_observations = dataset.split("val")
    z_test, test_observations = dataset.split("test")
    (image_val, text_val), (image_test, text_test) = encode(model, val_observations), encode(model, test_observations)
    continuous = [NAMES.index(name) for name in ("x", "y", "object_hue")]
    r2 = r2_per_latent(z_val[:, continuous], image_val, z_test[:, continuous], image_test, "kernel", max_fit=300)
    assert r2.min() > 0.5, r2
    shape = NAMES.index("shape")
    chance = np.bincount(z_test[:, shape].astype(int)).max() / len(z_test)  # always the most frequent shape
    for h_val, h_test in ((image_val, image_test), (text_val, text_test)):  # the shape is learned last
        assert classification_accuracy(z_val[:, shape], h_val, z_test[:, shape], h_test) > chance + 0.03
    pattern = np.asarray(recover_structure([image_val, text_val], 0.8)["recovered_pattern"])
    assert (pattern.sum(axis=0) == 2).sum() >= 3
