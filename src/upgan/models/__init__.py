"""Networks: the three-head U-Net, the PatchGAN and the UP-GAN cascade; the baselines' networks
(pix2pix, PAN, MedGAN) and MedGAN's feature extractors."""

from upgan.models.cascade import (
    UPGAN,
    CascadeConfig,
    PhaseOutput,
    build_discriminator,
    build_discriminators,
    build_generators,
    cascade_config_from_dict,
)
from upgan.models.casnet import CasNet
from upgan.models.generators import UnitRangeGenerator, check_image, max_downsamplings
from upgan.models.guidance import (
    GUIDANCE_INPUTS,
    GuidanceInput,
    get_guidance,
    guidance_names,
    uncertainty_attention,
)
from upgan.models.pan import PANDiscriminator, PANGenerator
from upgan.models.patchgan import DiscriminatorConfig, PatchDiscriminator
from upgan.models.pix2pix import Pix2PixUNet, init_pix2pix_weights
from upgan.models.unet import (
    GeneratorOutput,
    PlainBlock,
    ResidualBlock,
    UncertaintyUNet,
    UNetConfig,
    count_parameters,
)
from upgan.models.vgg import (
    VGG19_FEATURE_LAYERS,
    FeatureExtractor,
    SmallVGG,
    SmallVGGDecoder,
    VGG19Features,
    file_sha256,
    load_vgg19_feature_extractor,
)

__all__ = [
    "GUIDANCE_INPUTS",
    "GuidanceInput",
    "get_guidance",
    "guidance_names",
    "UPGAN",
    "VGG19_FEATURE_LAYERS",
    "CascadeConfig",
    "CasNet",
    "DiscriminatorConfig",
    "FeatureExtractor",
    "GeneratorOutput",
    "PANDiscriminator",
    "PANGenerator",
    "PatchDiscriminator",
    "PhaseOutput",
    "Pix2PixUNet",
    "PlainBlock",
    "ResidualBlock",
    "SmallVGG",
    "SmallVGGDecoder",
    "UNetConfig",
    "UncertaintyUNet",
    "UnitRangeGenerator",
    "VGG19Features",
    "build_discriminator",
    "build_discriminators",
    "build_generators",
    "cascade_config_from_dict",
    "check_image",
    "count_parameters",
    "file_sha256",
    "init_pix2pix_weights",
    "load_vgg19_feature_extractor",
    "max_downsamplings",
    "uncertainty_attention",
]
