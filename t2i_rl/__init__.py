"""t2i-rl: online RL (flow-GRPO) for text-to-image flow models with per-concept rewards."""

from pathlib import Path

__version__ = "0.1.0"

#: The embedded default: the tiny SD3-architecture shapes-world model shipped in the package
#: (made by ``scripts/pretrain_shapes.py``; see docs/shapes_world.md).
SHIPPED_SHAPES_MODEL = Path(__file__).resolve().parent / "assets" / "shapes-sd3"
