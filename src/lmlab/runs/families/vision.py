"""Image classifiers: the CNN line (AlexNet, VGG, ResNet) and the Vision Transformer."""

from lmlab.runs.families.registry import TRAIN, Converter, Family, register

IMAGES_DATA = "`digits` (scikit-learn's 1,797 8×8 digits) or a folder of class folders: FOLDER/CLASS_NAME/*.png|jpg"
IMAGES_ABOUT = ("Train an image classifier on scikit-learn's 8×8 digits (`--data digits`) or on a folder of class "
                "folders (FOLDER/CLASS_NAME/*.png|jpg), split into train / validation / test (stratified, seeded). "
                "Every image is converted to the model's channels and size and normalised; the settings are saved "
                "with the run and reused by `lmlab classify`. Augmentation: random shifts (--shift, pixels), "
                "optional flips (--flip true; never for digits). --init RUN starts from another run's weights (e.g. a "
                "Hugging Face ResNet imported with `lmlab hf import`; --input_size sets the image size then). The "
                "weights kept are the evaluation's best on "
                "validation. Writes config.json, model.safetensors, train_state.pt, metrics.jsonl (val_loss, "
                "val_acc, val_accuracy), loss.png, results.json (test accuracy, macro-F1, confusion matrix) and "
                "confusion.png")

register(Family(
    name="cnn",
    summary="train an image classifier CNN (AlexNet, VGG, ResNet) on digits or a folder of class folders",
    configs={"model": "lmlab.models.cnn.config:CNNConfig", "train": TRAIN, "data": "lmlab.data.images:ImageDataConfig"},
    defaults={"train": "lmlab.train.config:IMAGE_TRAIN"},
    model="lmlab.models.cnn.model:CNN",
    presets="lmlab.models.cnn.presets:PRESETS", default_preset="resnet-digits",
    count="lmlab.models.cnn.presets:count_parameters",
    tokenizer="none (images: resized, converted, normalised)",
    hf={"resnet": Converter("ResNet", load="lmlab.io.hf_resnet:load_hf_resnet",
                            save="lmlab.io.hf_resnet:save_hf_resnet", save_options=("labels",))},
    train="lmlab.recipes.train_images:train_images", train_options=("config", "init"),
    commands=("train", "classify", "info", "hf"),
    next_step="classify images with: lmlab classify {out} IMAGE.png",
    about=IMAGES_ABOUT + ", and, for a CNN, filters.png and feature_maps.png (the first layer's filters and "
                         "what they make of a test image).",
    examples="""\
examples:
  lmlab train cnn --data digits --out runs/digits-resnet                     # resnet-digits, about a minute
  lmlab train cnn --data digits --preset vgg-digits --max_steps 1500 --out runs/digits-vgg
  lmlab train cnn --data my_photos/ --preset resnet-small --flip true --shift 4 --out runs/photos
  lmlab train cnn --data my_photos/ --init runs/resnet18-imported --lr 1e-4 --out runs/photos-ft
  lmlab classify runs/digits-resnet seven.png --top-k 3
  lmlab info --preset resnet50
""",
    data_help=IMAGES_DATA,
))

register(Family(
    name="vit",
    summary="train a Vision Transformer (patches with any stride, the shared encoder) on digits or class folders",
    configs={"model": "lmlab.models.vit.config:ViTConfig", "train": TRAIN, "data": "lmlab.data.images:ImageDataConfig"},
    defaults={"train": "lmlab.train.config:IMAGE_TRAIN"},
    model="lmlab.models.vit.model:ViTForImageClassification",
    presets="lmlab.models.vit.presets:PRESETS", default_preset="vit-digits",
    count="lmlab.models.vit.presets:count_parameters",
    tokenizer="none: images are cut into patches (lmlab explain patches)",
    hf={"vit": Converter("ViT", load="lmlab.io.hf_vit:load_hf_vit", save="lmlab.io.hf_vit:save_hf_vit",
                         save_options=("labels",))},
    train="lmlab.recipes.train_images:train_images", train_options=("config", "init"),
    commands=("train", "classify", "info", "hf"),
    next_step="classify images with: lmlab classify {out} IMAGE.png",
    about=IMAGES_ABOUT + ", and, for a ViT, rollout.png (attention rollout over a test image).",
    examples="""\
examples:
  lmlab train vit --data digits --out runs/digits-vit                        # vit-digits: 2×2 patches, 16 tokens
  lmlab train vit --data digits --stride 1 --out runs/digits-vit-overlap     # overlapping: 7×7 = 49 patches
  lmlab train vit --data digits --pool mean --max_steps 2000 --out runs/digits-vit-mean
  lmlab train vit --data my_photos/ --preset vit-tiny --flip true --out runs/photos-vit
  lmlab explain patches --image-size 224 --patch-size 16 --stride 8
  lmlab info --preset vit-b16
""",
    data_help=IMAGES_DATA,
))
