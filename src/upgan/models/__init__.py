"""Networks: the three-head U-Net, the PatchGAN and the UP-GAN cascade."""

from upgan.models.cascade import (
    UPGAN,
    CascadeConfig,
    PhaseOutput,
    build_discriminator,
    build_discriminators,
    build_generators,
    cascade_config_from_dict,
    uncertainty_attention,
)
from upgan.models.patchgan import DiscriminatorConfig, PatchDiscriminator
from upgan.models.unet import (
    GeneratorOutput,
    PlainBlock,
    ResidualBlock,
    UncertaintyUNet,
    UNetConfig,
    count_parameters,
)

__all__ = [
    "UPGAN",
    "CascadeConfig",
    "DiscriminatorConfig",
    "GeneratorOutput",
    "PatchDiscriminator",
    "PhaseOutput",
    "PlainBlock",
    "ResidualBlock",
    "UNetConfig",
    "UncertaintyUNet",
    "build_discriminator",
    "build_discriminators",
    "build_generators",
    "cascade_config_from_dict",
    "count_parameters",
    "uncertainty_attention",
]

# Baseline networks (pix2pix, PAN, MedGAN).
from upgan.models.baselines import (  # noqa: E402
    CasNet,
    FeatureExtractor,
    PANDiscriminator,
    PANGenerator,
    Pix2PixUNet,
    SmallVGG,
    UnitRangeGenerator,
    VGG19Features,
    load_vgg19_feature_extractor,
)

__all__ += [
    "CasNet",
    "FeatureExtractor",
    "PANDiscriminator",
    "PANGenerator",
    "Pix2PixUNet",
    "SmallVGG",
    "UnitRangeGenerator",
    "VGG19Features",
    "load_vgg19_feature_extractor",
]
