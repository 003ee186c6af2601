"""Tiny random SD3 and FLUX pipelines (and a tiny Qwen-VL judge) with the real classes, for tests, demos and benchmarks.

They are saved with ``save_pretrained`` and loaded back through the same ``from_pretrained`` path that a user's
``stabilityai/stable-diffusion-3.5-medium`` takes. Tokenizers are built in memory (byte-level CLIP without merges,
a character-level T5 unigram), so nothing is downloaded.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path

import torch


def bytes_to_unicode() -> list[str]:
    """GPT-2 / CLIP byte -> printable unicode table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return [chr(c) for c in cs]


def tiny_clip_tokenizer(max_length: int = 77):
    from transformers import CLIPTokenizer

    chars = bytes_to_unicode()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def tiny_t5_tokenizer(max_length: int = 64):
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    for ch in string.ascii_letters + string.digits + string.punctuation:
        pieces += [("▁" + ch, -3.0), (ch, -4.0)]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=max_length)


CLIP_CONFIG = dict(
    bos_token_id=0, eos_token_id=1, pad_token_id=1, vocab_size=514, hidden_size=32, intermediate_size=64,
    num_attention_heads=4, num_hidden_layers=2, projection_dim=32, max_position_embeddings=77, hidden_act="gelu",
)
T5_CONFIG = dict(
    vocab_size=192, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4, dropout_rate=0.0,
    relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
)


def _vae(shift: float, scale: float):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=16, down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=[8, 8, 8, 8], layers_per_block=1,
        norm_num_groups=1, sample_size=64, use_quant_conv=False, use_post_quant_conv=False,
        shift_factor=shift, scaling_factor=scale,
    )


def tiny_sd3_pipeline(seed: int = 0, num_layers: int = 2, pos_embed_max_size: int = 32):
    """A random StableDiffusion3Pipeline with real SD3 geometry (16 latent channels, VAE /8, patch 2)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, T5Config, T5EncoderModel

    torch.manual_seed(seed)
    transformer = SD3Transformer2DModel(
        sample_size=16, patch_size=2, in_channels=16, out_channels=16, num_layers=num_layers, attention_head_dim=8,
        num_attention_heads=4, joint_attention_dim=64, caption_projection_dim=32, pooled_projection_dim=64,
        pos_embed_max_size=pos_embed_max_size,
    )
    pipe = StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=_vae(0.0609, 1.5035),
        text_encoder=CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_CONFIG)),
        tokenizer=tiny_clip_tokenizer(),
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_CONFIG)),
        tokenizer_2=tiny_clip_tokenizer(),
        text_encoder_3=T5EncoderModel(T5Config(**T5_CONFIG)),
        tokenizer_3=tiny_t5_tokenizer(),
    )
    return _eval(pipe)


def tiny_flux_pipeline(seed: int = 0):
    """A random FluxPipeline (guidance-distilled geometry: 2x2 packed 16-channel latents, guidance embedding)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=64, num_layers=1, num_single_layers=2, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=64, pooled_projection_dim=32, guidance_embeds=True,
        axes_dims_rope=(4, 4, 8),
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
        max_image_seq_len=4096,
    )
    pipe = FluxPipeline(
        transformer=transformer,
        scheduler=scheduler,
        vae=_vae(0.1159, 0.3611),
        text_encoder=CLIPTextModel(CLIPTextConfig(**CLIP_CONFIG)),
        tokenizer=tiny_clip_tokenizer(),
        text_encoder_2=T5EncoderModel(T5Config(**T5_CONFIG)),
        tokenizer_2=tiny_t5_tokenizer(),
    )
    return _eval(pipe)


def _eval(pipe):
    for name in ("transformer", "vae", "text_encoder", "text_encoder_2", "text_encoder_3"):
        module = getattr(pipe, name, None)
        if module is not None:
            module.eval()
    return pipe


def save_tiny_pipeline(backbone: str, directory: str | Path, seed: int = 0) -> Path:
    """Build a tiny pipeline and ``save_pretrained`` it; returns the directory."""
    builders = {"sd3": tiny_sd3_pipeline, "flux": tiny_flux_pipeline}
    if backbone not in builders:
        raise ValueError(f"unknown backbone {backbone!r}; choose from {sorted(builders)}")
    directory = Path(directory)
    builders[backbone](seed=seed).save_pretrained(directory)
    return directory


#: Settings under which flow-GRPO visibly raises a brightness reward on the tiny pipelines in 30 steps
#: (tests/test_training.py asserts it; scripts/learning_check.py prints the figures). One SDE step per rollout
#: (flow-GRPO-Fast / MixGRPO) from an initial noise shared by the group (DanceGRPO) and 32 images per update: with
#: every step stochastic and 8 images per update the gain ranged from -6.5 to +45 seed-noise units over three
#: seeds; with these settings it is +16 to +92 (docs/training.md, "gradient noise").
TINY_LEARNING = dict(
    train__num_steps=30, train__learning_rate=3e-2, train__beta=0.0, train__ema=False, train__micro_batch_size=8,
    sampling__train_steps=6, sampling__eval_steps=6, sampling__sde_window=1, train__timestep_fraction=1.0,
    rollout__same_noise=True, rollout__batch_size=32, train__gradient_accumulation_steps=4,
)

# The same task for DiffusionNFT (ODE rollouts from distinct noises; tests/test_nft.py).
TINY_NFT_LEARNING = {**TINY_LEARNING, "train__algorithm": "nft", "rollout__same_noise": False,
                     "train__learning_rate": 1e-2}


def tiny_training_overrides(backbone: str, model_dir, output_dir, **extra) -> list[str]:
    """A small, fast training configuration as dotted overrides; ``extra`` replaces keys (dots as __)."""
    base = {
        "output_dir": str(output_dir),
        "model.backbone": backbone,
        "model.pretrained": str(model_dir),
        "model.lora_rank": 4,
        "model.lora_alpha": 8,
        "model.max_sequence_length": 16,
        "sampling.resolution": 64,
        "sampling.train_steps": 4,
        "sampling.eval_steps": 4,
        "rollout.images_per_prompt": 4,
        "rollout.batch_size": 8,
        "rollout.batches_per_step": 1,
        "train.micro_batch_size": 4,
        "train.gradient_accumulation_steps": 1,
        "train.num_steps": 3,
        "train.learning_rate": 1e-2,
        "train.clip_range": 0.2,
        "train.beta": 0.04,
        "train.global_std": False,
        "train.ema": True,
        "checkpoint.every": 0,
        "logging.progress_bar": False,
        "data.num_eval_prompts": 2,
        "data.inline_prompts": "[a red circle,a blue square,two green triangles]",
    }
    base.update({k.replace("__", "."): v for k, v in extra.items()})
    return [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in base.items()]


# ------------------------------------------------------------------- tiny Qwen-VL (judges, parsers)
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                 "<|image_pad|>", "<|video_pad|>"]
TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_qwen_vl_processor(words: Sequence[str] = ("Yes", "No", "yes", "no")):
    """A Qwen2-VL processor built in memory: byte-level BPE whose merges make ``words`` single tokens."""
    from transformers import Qwen2Tokenizer, Qwen2VLProcessor, Qwen2VLVideoProcessor
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor

    vocab = {c: i for i, c in enumerate(bytes_to_unicode())}
    merges: list[tuple[str, str]] = []
    for word in words:
        current = word[0]
        for ch in word[1:]:
            if (current, ch) not in merges:
                merges.append((current, ch))
            current += ch
            vocab.setdefault(current, len(vocab))
    for special in QWEN_SPECIALS:
        vocab[special] = len(vocab)
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, bos_token=None, eos_token="<|im_end|>",
                               pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": QWEN_SPECIALS})
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    image_processor = Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=112 * 112, patch_size=14, merge_size=2,
                                            temporal_patch_size=2)
    return Qwen2VLProcessor(image_processor=image_processor, tokenizer=tokenizer,
                            video_processor=Qwen2VLVideoProcessor(), chat_template=TINY_CHAT_TEMPLATE)


def save_tiny_qwen_vl(directory: str | Path, version: str = "2.5", seed: int = 0) -> Path:
    """Save a tiny random Qwen2-VL (``version="2"``) or Qwen2.5-VL (``"2.5"``) model + processor for tests and dry
    runs; it loads with :func:`reward_models.vqa.load_vlm` like the real one (about 0.2 M parameters)."""
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
    )

    processor = tiny_qwen_vl_processor()
    tok = processor.tokenizer
    ids = {key: tok.convert_tokens_to_ids(token) for key, token in (
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}
    text_config = {
        "vocab_size": len(tok), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 2048, "bos_token_id": None,
        "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
    }
    torch.manual_seed(seed)
    if version == "2.5":
        config = Qwen2_5_VLConfig(text_config=text_config, vision_config={
            "depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
            "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 56,
            "fullatt_block_indexes": [1]}, **ids)
        model = Qwen2_5_VLForConditionalGeneration(config)
    elif version == "2":
        config = Qwen2VLConfig(text_config=text_config, vision_config={
            "depth": 1, "embed_dim": 32, "hidden_size": 64, "num_heads": 2, "patch_size": 14,
            "spatial_merge_size": 2, "temporal_patch_size": 2, "mlp_ratio": 2}, **ids)
        model = Qwen2VLForConditionalGeneration(config)
    else:
        raise ValueError(f"version must be '2' or '2.5', got {version!r}")
    directory = Path(directory)
    model.eval().save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


# ------------------------------------------------------------------ tiny Grounding DINO (detector rewards, evals)
GROUNDING_DINO_WORDS = ("a", "cat", "dog", "cup", "square", "circle", "triangle", "red", "blue", "two", "of")


def save_tiny_grounding_dino(directory: str | Path, words: Sequence[str] = GROUNDING_DINO_WORDS, seed: int = 0) -> str:
    """Save a tiny random Grounding DINO (Swin + BERT, a word-level BERT vocabulary built in memory) with its
    processor; it loads through ``AutoModelForZeroShotObjectDetection.from_pretrained`` like
    IDEA-Research/grounding-dino-tiny."""
    from transformers import (
        BertConfig,
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessorPil,
        GroundingDinoProcessor,
        SwinConfig,
    )

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "-"]
    pieces = specials + [w for w in words if w not in specials]
    pieces += list(string.ascii_lowercase) + [f"##{c}" for c in string.ascii_lowercase]
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(dict.fromkeys(pieces))})
    processor = GroundingDinoProcessor(
        image_processor=GroundingDinoImageProcessorPil(size={"shortest_edge": 64, "longest_edge": 128}),
        tokenizer=tokenizer)
    config = GroundingDinoConfig(
        backbone_config=SwinConfig(image_size=64, patch_size=4, embed_dim=8, depths=[1, 1, 1, 1],
                                   num_heads=[1, 1, 1, 1], window_size=7, out_features=["stage2", "stage3", "stage4"]),
        text_config=BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=37, max_position_embeddings=64),
        d_model=64, num_queries=10, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        encoder_attention_heads=2, decoder_attention_heads=2, num_feature_levels=4, encoder_n_points=2,
        decoder_n_points=2, max_text_len=32, dropout=0.0, fusion_droppath=0.0)
    torch.manual_seed(seed)
    GroundingDinoForObjectDetection(config).save_pretrained(directory)
    processor.save_pretrained(directory)
    return str(directory)
