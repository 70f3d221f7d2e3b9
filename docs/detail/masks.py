"""Draws the masks of docs/detail.md for examples/images/astronaut.jpg (512 x 512):
the face (a soft ellipse) and its complement, and the left and right halves
with a soft boundary. Usage: python3 docs/detail/masks.py OUTPUT_DIR"""
import sys

from PIL import Image, ImageDraw, ImageFilter, ImageOps

out = sys.argv[1]
face = Image.new("L", (512, 512), 0)
ImageDraw.Draw(face).ellipse([226 - 88, 105 - 100, 226 + 88, 105 + 100], fill=255)
face = face.filter(ImageFilter.GaussianBlur(8))
face.save(f"{out}/mask_face.png")
ImageOps.invert(face).save(f"{out}/mask_not_face.png")
left = Image.new("L", (512, 512), 0)
ImageDraw.Draw(left).rectangle([0, 0, 255, 512], fill=255)
left = left.filter(ImageFilter.GaussianBlur(10))
left.save(f"{out}/mask_left.png")
ImageOps.invert(left).save(f"{out}/mask_right.png")
