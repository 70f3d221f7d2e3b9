#!/bin/sh
# Remakes the GAN gallery (docs/gan_gallery.md): every shipped stylizer on
# three photos none of them was trained on, Gatys on the first of them for
# each painting, and the untouched photos, each scored by the Gatys
# objective (`fresco score` defaults) against its photo and painting.
# Run from the repository root after `cargo build --release`:
#   sh docs/gallery/make.sh > docs/gallery/scores.jsonl
set -eu
fresco=${FRESCO:-target/release/fresco}
out=docs/gallery
for style in starry_night the_scream wave; do
    for photo in astronaut chelsea coffee; do
        "$fresco" gan apply --model "models/$style.safetensors" \
            --content "examples/images/$photo.jpg" --size 512 \
            --output "$out/${photo}_${style}_gan.jpg" >&2
        "$fresco" score --json --content "examples/images/$photo.jpg" \
            --style "examples/images/$style.jpg" "$out/${photo}_${style}_gan.jpg"
        "$fresco" score --json --content "examples/images/$photo.jpg" \
            --style "examples/images/$style.jpg" "examples/images/$photo.jpg"
    done
    "$fresco" gatys --quiet --content examples/images/astronaut.jpg \
        --style "examples/images/$style.jpg" --size 512 --scales 2 --coarse-iters 100 --iters 100 --history 100 \
        --output "$out/astronaut_${style}_gatys.jpg" >&2
    "$fresco" score --json --content examples/images/astronaut.jpg \
        --style "examples/images/$style.jpg" "$out/astronaut_${style}_gatys.jpg"
done
# Stylizers trained for video, each with the painting it was trained on
# (their ratios in the gallery use the untouched photos' rows above).
for pair in starry_night_video:starry_night; do
    model=${pair%%:*}
    style=${pair#*:}
    for photo in astronaut chelsea coffee; do
        "$fresco" gan apply --model "models/$model.safetensors" \
            --content "examples/images/$photo.jpg" --size 512 \
            --output "$out/${photo}_${model}_gan.jpg" >&2
        "$fresco" score --json --content "examples/images/$photo.jpg" \
            --style "examples/images/$style.jpg" "$out/${photo}_${model}_gan.jpg"
    done
done
