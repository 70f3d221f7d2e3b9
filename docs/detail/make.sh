#!/bin/sh
# Remakes the pictures and measures of docs/detail.md: the Laplacian loss
# (Li et al. 2017) on three photos with faces or text, the histogram loss
# (Risser et al. 2017) over five seeds, style masks (Gatys et al. 2017), and
# a 2048-px result. Run from the repository root after
# `cargo build --release` (about an hour on two cores; the 2048-px run alone
# takes half of it and needs about 15 GiB of memory):
#   sh docs/detail/make.sh
# The masks are drawn by docs/detail/masks.py (Python with Pillow).
set -eu
fresco=${FRESCO:-target/release/fresco}
out=docs/detail
starry=examples/images/starry_night.jpg

# Laplacian loss: without and with (weight 1, pooling 4), scored at three poolings.
for photo in astronaut:examples/images/astronaut.jpg grace_hopper:examples/photos/grace_hopper.jpg text:examples/photos/text.jpg; do
    name=${photo%%:*}; content=${photo#*:}
    for weight in 0 1; do
        "$fresco" gatys --quiet --iters 65 --history 10 --content "$content" --style "$starry" --laplacian-weight $weight \
            --output "$out/${name}_laplacian$weight.png"
    done
    pool24=
    if [ "$name" != grace_hopper ]; then
        "$fresco" gatys --quiet --iters 65 --history 10 --content "$content" --style "$starry" --laplacian-weight 2 --laplacian-pool 2,4 \
            --output "$out/${name}_laplacian2_pool24.png"
        pool24="$out/${name}_laplacian2_pool24.png"
    fi
    for pool in 4 2 1; do
        # shellcheck disable=SC2086
        "$fresco" score --json --content "$content" --style "$starry" --laplacian-pool $pool "$content" \
            "$out/${name}_laplacian0.png" "$out/${name}_laplacian1.png" $pool24 \
            > "$out/${name}_scores_pool$pool.jsonl"
    done
done

# Histogram loss: five noise starts without and with it (weight 10), at 256 px,
# with L-BFGS's line search (shipped) and with its fixed steps (kept aside).
fixed=${TMPDIR:-/tmp}/fresco-detail-fixed-steps
mkdir -p "$fixed"
for weight in 0 10; do
    for seed in 0 1 2 3 4; do
        for run in "$out:--line-search" "$fixed:"; do
            # shellcheck disable=SC2086
            "$fresco" gatys --quiet --iters 65 --history 10 --content examples/images/chelsea.jpg --style "$starry" --size 256 --init noise \
                --seed $seed --histogram-weight $weight ${run#*:} --output "${run%%:*}/chelsea_histogram${weight}_seed$seed.png"
        done
    done
done
for dir in "$out" "$fixed"; do
    "$fresco" score --json --content examples/images/chelsea.jpg --style "$starry" --size 256 --histogram-weight 1 \
        "$dir"/chelsea_histogram*_seed*.png
done > "$out/histogram_scores.jsonl"

# Masks: The Starry Night everywhere but the face; The Great Wave left, The Starry Night right.
python3 "$out/masks.py" "$out"
"$fresco" gatys --quiet --iters 65 --history 10 --content examples/images/astronaut.jpg --style "$starry" \
    --style-mask "$out/mask_not_face.png" --output "$out/astronaut_mask_face_kept.png"
"$fresco" gatys --quiet --iters 65 --history 10 --content examples/images/astronaut.jpg --style examples/images/wave.jpg \
    --style-mask "$out/mask_left.png" --style "$starry" --style-mask "$out/mask_right.png" \
    --output "$out/astronaut_mask_two_styles.png"
# The style term in each region, for the photo, the masked run and the unmasked one.
for mask in not_face face; do
    "$fresco" score --json --content examples/images/astronaut.jpg --style "$starry" --style-mask "$out/mask_$mask.png" \
        examples/images/astronaut.jpg "$out/astronaut_laplacian0.png" "$out/astronaut_mask_face_kept.png"
done > "$out/mask_face_scores.jsonl"
for style in left:examples/images/wave.jpg right:$starry; do
    for region in left right; do
        "$fresco" score --json --content examples/images/astronaut.jpg --style "${style#*:}" \
            --style-mask "$out/mask_$region.png" \
            examples/images/astronaut.jpg "$out/astronaut_mask_two_styles.png" "$out/astronaut_laplacian0.png"
    done
done > "$out/mask_two_styles_scores.jsonl"

# 2048 px, four scales.
"$fresco" gatys --quiet --content examples/images/astronaut.jpg --style "$starry" --size 2048 --scales 4 \
    --coarse-iters 40 --iters 30 --history 10 --output "$out/astronaut_2048.jpg" --log "$out/astronaut_2048.jsonl"
