#!/usr/bin/env bash
# Train the lesion segmenter on a lent GPU machine in one call, and send back a run folder that
# `calibrate` reads here. Run from the checkout's root, with the carry folder that `make gpu-carry`
# built (see weights/MODEL_CARD.md, "On a GPU"):
#
#   bash core/training/gpu_train.sh RUN_NAME MINUTES [train_segmenter options...]
#
# The device has PyTorch but not our training packages: they come as wheels. Its python3 is not
# our pinned venv, so the run's versions are recorded in versions.txt beside the results.
# PYTHON, DEVICE, WORKERS and CARRY may be set to run the same steps elsewhere (the tests do).
set -euo pipefail
name=${1:?run name}
minutes=${2:?time budget in minutes}
shift 2
python=${PYTHON:-python3}
carry=${CARRY:-gpu_carry}
work=$(mktemp -d)
out=${OUT:-$work/out}/$name
mkdir -p "$out"

tar -xzf "$carry/acne04-pack.tar.gz" -C "$work"
# Extra sets packed with `pack_data --extra-data` (extra/<name>/) are trained on too.
extra=()
for folder in "$work"/extra/*/; do
    [ -f "$folder/index.csv" ] && extra+=(--extra-data "${folder%/}")
done
if ! "$python" -c "import segmentation_models_pytorch, albumentations" 2>/dev/null; then
    "$python" -m pip install --quiet --no-index --no-deps "$carry"/wheels/*.whl
fi
"$python" - >"$out/versions.txt" <<'PY'
import sys, torch, segmentation_models_pytorch as smp, albumentations as A
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
print(f"python {sys.version.split()[0]} torch {torch.__version__} smp {smp.__version__} "
      f"albumentations {A.__version__} gpu {gpu}")
PY

"$python" -m core.training.train_segmenter --data "$work/acne04" --run "$work/$name" \
    --imagenet "$work/imagenet.pth" --device "${DEVICE:-cuda}" --workers "${WORKERS:-14}" \
    --minutes "$minutes" ${extra[@]+"${extra[@]}"} "$@"

cp "$work/$name"/{args.json,config.json,data.json,summary.csv,train.log} "$out/"
for checkpoint in last.pt best.pt; do
    "$python" -m core.training.checkpoint "$work/$name/$checkpoint" "$out/$checkpoint"
done
rm -rf "$work/acne04" "$work/extra"  # patient photos do not outlive the run
echo "run folder: $out"
