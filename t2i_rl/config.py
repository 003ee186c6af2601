"""Typed configuration: dataclasses, YAML files and dotted command-line overrides.

``load_config("configs/x.yaml", ["train.learning_rate=1e-4"])`` validates every key against the dataclasses
below (an unknown key is an error listing the valid ones), merges defaults <- YAML <- overrides with OmegaConf
and returns a :class:`Config`. Every field's comment is its documentation.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from omegaconf import OmegaConf


@dataclass
class ModelConfig:
    backbone: str = "sd3"  # "sd3" or "flux": which policy adapter loads the pipeline
    pretrained: str = "stabilityai/stable-diffusion-3.5-medium"  # hub id or local diffusers directory
    revision: Optional[str] = None  # hub revision
    dtype: str = "float32"  # dtype of the frozen weights: float32 | bfloat16 | float16 (LoRA stays fp32)
    lora_rank: Optional[int] = None  # None: backbone default (SD3 32, FLUX 64, as flow_grpo)
    lora_alpha: Optional[float] = None  # None: backbone default (SD3 64, FLUX 128)
    lora_target_modules: Optional[List[str]] = None  # None: backbone default (SD3 attention; FLUX + feed-forward)
    lora_init: str = "gaussian"  # peft init_lora_weights; "gaussian" or "default" keep B = 0 (a no-op start)
    gradient_checkpointing: bool = False  # trade compute for memory in the transformer (GPUs)
    max_sequence_length: int = 128  # T5 tokens


@dataclass
class SamplingConfig:
    resolution: int = 512  # square image side in pixels
    train_steps: int = 10  # denoising steps of training rollouts (flow-GRPO's denoising reduction)
    eval_steps: int = 40  # denoising steps of evaluation and `t2i-rl sample` (deterministic ODE)
    guidance_scale: float = 4.5  # CFG scale for SD3, guidance embedding for FLUX
    noise_level: float = 0.7  # SDE noise scale a in sigma_t = a sqrt(sigma / (1 - sigma))
    sde_window: Optional[int] = None  # None: all steps stochastic; k: k consecutive SDE steps, the rest ODE
    sde_window_max_start: Optional[int] = None  # latest first step of the window (None: any); flow-GRPO-Fast: T // 2
    noise_block: int = 1  # k > 1: SDE noise constant on k x k latent blocks, D / k^2 actions per step (t2i_rl.sde)
    negative_prompt: str = ""  # SD3 classifier-free guidance negative prompt


@dataclass
class DataConfig:
    prompts: Optional[str] = None  # .txt (one prompt a line) or .jsonl ({"prompt": ..., other metadata})
    eval_prompts: Optional[str] = None  # same formats; defaults to a slice of the training prompts
    inline_prompts: List[str] = field(default_factory=list)  # used when `prompts` is not set
    num_eval_prompts: int = 8  # how many eval prompts to render in grids / evaluate


@dataclass
class RewardSpec:
    name: str = "image_stats"  # key in reward_models.REWARDS
    args: Dict[str, Any] = field(default_factory=dict)  # keyword arguments of its factory
    prefix: Optional[str] = None  # column-name prefix (defaults to the reward's name when several are used)


@dataclass
class AggregatorConfig:
    name: str = "weighted_sum"  # key in t2i_rl.aggregation.AGGREGATORS
    args: Dict[str, Any] = field(default_factory=dict)  # keyword arguments of its constructor


@dataclass
class RolloutConfig:
    images_per_prompt: int = 24  # group size k: images of one prompt compared with each other
    batch_size: int = 9  # images per process per sampling batch; batch_size * processes % k == 0
    batches_per_step: int = 4  # sampling batches per training step
    same_noise: bool = False  # the k images of a group share their initial noise (DanceGRPO's init_same_noise)


@dataclass
class TrainConfig:
    num_steps: int = 1000  # training steps (each: rollouts, rewards, one or more optimizer updates)
    learning_rate: float = 3e-4
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_weight_decay: float = 1e-4
    adam_epsilon: float = 1e-8
    lr_scheduler: str = "constant"  # any diffusers.optimization.get_scheduler name
    lr_warmup_steps: int = 0  # in optimizer updates
    max_grad_norm: float = 1.0
    micro_batch_size: int = 9  # images per process per backward pass
    gradient_accumulation_steps: int = 2  # micro-batches per optimizer update (times the trained timesteps)
    inner_epochs: int = 1  # passes over each step's rollouts
    timestep_fraction: float = 0.99  # the first int(T * fraction) SDE steps are trained (0.99: all but the last)
    clip_range: float = 1e-4  # PPO ratio clip epsilon
    adv_clip_max: float = 5.0  # advantages are clipped to [-max, max]
    beta: float = 0.04  # KL weight to the reference (LoRA disabled); 0 skips the reference pass
    global_std: bool = True  # normalise advantages by the std of the whole batch instead of the group's
    ema: bool = True  # exponential moving average of the LoRA weights (used for eval and export)
    ema_decay: float = 0.9
    mixed_precision: str = "no"  # accelerate: no | fp16 | bf16
    algorithm: str = "grpo"  # grpo: flow-GRPO (SDE log-probs, clipped ratio) | nft: DiffusionNFT (t2i_rl/nft.py)
    nft_beta: float = 1.0  # DiffusionNFT's beta: v+ = beta v + (1 - beta) v_old (1.0 as its GenEval config)
    nft_timesteps: Optional[int] = 1  # schedule timesteps each image trains on per step, drawn at random (None: all)
    nft_old_rate: float = 0.001  # the sampling policy keeps eta = min(rate * updates, max) in its soft update
    nft_old_max: float = 0.5


@dataclass
class LoggingConfig:
    log_with: str = "none"  # none | tensorboard | wandb (both work offline)
    project: str = "t2i-rl"  # tracker project name
    log_every: int = 1  # steps between scalar logs
    image_every: int = 0  # steps between image grids (0: only at the start and the end)
    progress_bar: bool = True


@dataclass
class CheckpointConfig:
    every: int = 50  # steps between checkpoints (0: only at the end)
    keep_last: int = 3  # older checkpoints are deleted
    resume: Optional[str] = None  # None | "auto" (newest valid in output_dir) | path to a checkpoint


@dataclass
class Config:
    output_dir: str = "runs/exp"
    seed: int = 42
    model: ModelConfig = field(default_factory=ModelConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    data: DataConfig = field(default_factory=DataConfig)
    rewards: List[RewardSpec] = field(default_factory=lambda: [RewardSpec()])
    aggregator: AggregatorConfig = field(default_factory=AggregatorConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)


class ConfigError(ValueError):
    """A configuration problem, with the fix in the message."""


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults <- YAML file <- ``key=value`` overrides, validated and typed."""
    layers = []
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        data = OmegaConf.to_container(OmegaConf.load(path), resolve=True) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a YAML mapping at the top level")
        check_keys(data, Config, source=str(path))
        layers.append(OmegaConf.create(data))
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.sub=value")
        dotted = OmegaConf.to_container(OmegaConf.from_dotlist([item]), resolve=True)
        check_keys(dotted, Config, source=f"override {item!r}")
        layers.append(OmegaConf.from_dotlist([item]))
    try:
        merged = OmegaConf.merge(OmegaConf.structured(Config), *layers)
        config = OmegaConf.to_object(merged)
    except Exception as err:  # OmegaConf's type errors: keep them but say where they came from
        raise ConfigError(f"invalid configuration value: {err}") from err
    validate(config)
    return config


def check_keys(data: dict, schema: type, source: str, prefix: str = "") -> None:
    """Raise :class:`ConfigError` for keys that ``schema`` (a dataclass) does not have, recursively."""
    fields = {f.name: f for f in dataclasses.fields(schema)}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" Did you mean '{prefix}{close[0]}'?" if close else ""
            valid = ", ".join(f"{prefix}{name}" for name in fields)
            raise ConfigError(f"unknown config key {dotted!r} in {source}.{hint} Valid keys here: {valid}")
        nested = _dataclass_of(fields[key].type)
        if nested is not None and isinstance(value, dict):
            check_keys(value, nested, source, prefix=f"{dotted}.")
        elif key == "rewards" and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    check_keys(item, RewardSpec, source, prefix=f"rewards[{i}].")


def _dataclass_of(annotation: Any) -> type | None:
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return {cls.__name__: cls for cls in _SECTIONS}.get(name)


_SECTIONS = (
    ModelConfig, SamplingConfig, DataConfig, AggregatorConfig, RolloutConfig, TrainConfig, LoggingConfig,
    CheckpointConfig,
)


def validate(config: Config) -> None:
    """Cross-field checks that the types cannot express."""
    if config.model.backbone not in ("sd3", "flux"):
        raise ConfigError(f"model.backbone must be 'sd3' or 'flux', got {config.model.backbone!r}")
    if config.model.dtype not in ("float32", "bfloat16", "float16"):
        raise ConfigError(f"model.dtype must be float32, bfloat16 or float16, got {config.model.dtype!r}")
    if config.train.mixed_precision not in ("no", "fp16", "bf16"):
        raise ConfigError(f"train.mixed_precision must be no, fp16 or bf16, got {config.train.mixed_precision!r}")
    if config.logging.log_with not in ("none", "tensorboard", "wandb"):
        raise ConfigError(f"logging.log_with must be none, tensorboard or wandb, got {config.logging.log_with!r}")
    if config.rollout.images_per_prompt < 2:
        raise ConfigError("rollout.images_per_prompt must be >= 2: group-relative advantages need a group")
    if config.sampling.resolution % 16:
        raise ConfigError(f"sampling.resolution must be a multiple of 16, got {config.sampling.resolution}")
    if not 0 < config.train.timestep_fraction <= 1:
        raise ConfigError(f"train.timestep_fraction must be in (0, 1], got {config.train.timestep_fraction}")
    t = config.train
    if t.algorithm not in ("grpo", "nft"):
        raise ConfigError(f"train.algorithm must be 'grpo' (flow-GRPO) or 'nft' (DiffusionNFT), got {t.algorithm!r}")
    if t.algorithm == "nft":
        if config.rollout.same_noise:
            raise ConfigError("train.algorithm=nft samples with the ODE, so rollout.same_noise=true would give every "
                              "image of a group the same picture; set rollout.same_noise=false")
        if t.nft_beta <= 0 or (t.nft_timesteps is not None and t.nft_timesteps < 1):
            raise ConfigError("train.nft_beta must be > 0 and train.nft_timesteps >= 1 (or null for all)")
    if not config.rewards:
        raise ConfigError("rewards is empty: list at least one reward, e.g. rewards=[{name: image_stats}]")
    for name in ("train_steps", "eval_steps"):
        if getattr(config.sampling, name) < 1:
            raise ConfigError(f"sampling.{name} must be >= 1")
    s = config.sampling
    if s.noise_block < 1:
        raise ConfigError(f"sampling.noise_block must be >= 1 (1: flow-GRPO's isotropic noise), got {s.noise_block}")
    if s.noise_block > 1 and config.train.algorithm == "nft":
        raise ConfigError("sampling.noise_block shapes the SDE noise of flow-GRPO rollouts; train.algorithm=nft samples "
                          "with the ODE, so set sampling.noise_block=1")
    if s.sde_window_max_start is not None:
        if s.sde_window is None:
            raise ConfigError("sampling.sde_window_max_start needs sampling.sde_window (the window's length)")
        if not 0 <= s.sde_window_max_start <= s.train_steps - s.sde_window:
            raise ConfigError(f"sampling.sde_window_max_start must be in [0, {s.train_steps - s.sde_window}] "
                              f"(train_steps - sde_window), got {s.sde_window_max_start}")


def to_dict(config: Config) -> dict:
    return OmegaConf.to_container(OmegaConf.structured(config), resolve=True)


def save_config(config: Config, path: str | Path) -> None:
    Path(path).write_text(OmegaConf.to_yaml(OmegaConf.structured(config)))
