"""t2i-rl: online RL (flow-GRPO) for text-to-image flow models with per-concept rewards."""

__version__ = "0.1.0"
