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

# stylize MODEL STYLE PHOTO: the model's result on the photo, and its score
# against the photo and the painting.
stylize() {
    "$fresco" gan apply --model "models/$1.safetensors" \
        --content "examples/images/$3.jpg" --size 512 \
        --output "$out/${3}_${1}_gan.jpg" >&2
    "$fresco" score --json --content "examples/images/$3.jpg" \
        --style "examples/images/$2.jpg" "$out/${3}_${1}_gan.jpg"
}

for style in starry_night the_scream wave; do
    for photo in astronaut chelsea coffee; do
        stylize "$style" "$style" "$photo"
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
for photo in astronaut chelsea coffee; do
    stylize starry_night_video starry_night "$photo"
done
