from pathlib import Path

import pytest

from t2i_rl.config import Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_yaml_and_overrides_merge_with_types(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  learning_rate: 1.0e-3\nrollout:\n  images_per_prompt: 8\n")
    config = load_config(path, ["train.learning_rate=5e-4", "model.lora_target_modules=[to_q,to_v]"])
    assert isinstance(config, Config)
    assert config.train.learning_rate == 5e-4 and config.rollout.images_per_prompt == 8
    assert config.model.lora_target_modules == ["to_q", "to_v"]
    assert config.sampling.noise_level == 0.7  # untouched default


@pytest.mark.parametrize("where", ["yaml", "override"])
def test_unknown_key_is_an_error_listing_valid_keys(tmp_path, where):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  learnin_rate: 1.0\n" if where == "yaml" else "{}\n")
    overrides = ["train.learnin_rate=1"] if where == "override" else []
    with pytest.raises(ConfigError) as err:
        load_config(path, overrides)
    message = str(err.value)
    assert "train.learnin_rate" in message and "train.learning_rate" in message and "Valid keys" in message


def test_bad_values_are_errors():
    with pytest.raises(ConfigError, match="backbone"):
        load_config(None, ["model.backbone=sdxl"])
    with pytest.raises(ConfigError, match="invalid configuration value"):
        load_config(None, ["train.learning_rate=fast"])
    with pytest.raises(ConfigError, match="unknown config key 'rewards\\[0\\].weight'"):
        load_config(None, ["rewards=[{name: image_stats, weight: 2}]"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("no/such.yaml")
    with pytest.raises(ConfigError, match="sampling.noise_block must be >= 1"):
        load_config(None, ["sampling.noise_block=0"])
    with pytest.raises(ConfigError, match="set sampling.noise_block=1"):
        load_config(None, ["sampling.noise_block=2", "train.algorithm=nft"])
    with pytest.raises(ConfigError, match="needs sampling.sde_window"):
        load_config(None, ["sampling.sde_window_max_start=2"])
    with pytest.raises(ConfigError, match=r"sde_window_max_start must be in \[0, 8\]"):
        load_config(None, ["sampling.train_steps=10", "sampling.sde_window=2", "sampling.sde_window_max_start=9"])


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    config = load_config(path)
    assert config.output_dir


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "accelerate").glob("*.yaml")), ids=lambda p: p.name)
def test_accelerate_configs_are_valid(path):
    from accelerate.commands.config.config_args import ClusterConfig

    config = ClusterConfig.from_yaml_file(path)  # accelerate's own loader: raises on unknown keys
    assert config.num_processes >= 1


def test_flow_grpo_published_hyperparameters_in_sd35_config():
    c = load_config(ROOT / "configs" / "sd35m_geneval.yaml")
    assert (c.sampling.train_steps, c.sampling.eval_steps, c.sampling.guidance_scale, c.sampling.resolution) == (10, 40, 4.5, 512)
    assert (c.rollout.images_per_prompt, c.sampling.noise_level, c.train.beta, c.train.clip_range) == (24, 0.7, 0.04, 1e-4)
    assert c.train.learning_rate == 3e-4 and (c.model.lora_rank, c.model.lora_alpha) == (32, 64)
