"""Draw the integration's brand images, so they can be remade rather than hand-edited.

Home Assistant 2026.3+ reads a custom integration's images from its ``brand/`` folder:
icon.png (256x256) and icon@2x.png (512x512), logo.png and logo@2x.png, and dark_
variants of each for dark themes.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BRAND = (
    Path(__file__).resolve().parent.parent
    / "custom_components/teams_presence_keeper/brand"
)
TEAMS_PURPLE = (80, 89, 201, 255)
AVAILABLE_GREEN = (19, 161, 14, 255)
BUSY_RED = (196, 49, 75, 255)


def icon(size: int, ring: tuple[int, int, int, int]) -> Image.Image:
    """Draw a person in a rounded tile, with a presence dot half green, half red."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = size / 16
    draw.rounded_rectangle(
        (0, 0, size - 1, size - 1), radius=3 * unit, fill=TEAMS_PURPLE
    )
    white = (255, 255, 255, 255)
    draw.ellipse((5 * unit, 2.5 * unit, 11 * unit, 8.5 * unit), fill=white)
    draw.pieslice((2.5 * unit, 9 * unit, 13.5 * unit, 20 * unit), 180, 360, fill=white)
    dot = (10 * unit, 10 * unit, 15 * unit, 15 * unit)
    draw.ellipse(dot, fill=ring)
    draw.pieslice(dot, 90, 270, fill=AVAILABLE_GREEN)
    draw.pieslice(dot, 270, 90, fill=BUSY_RED)
    draw.ellipse(dot, outline=ring, width=max(1, round(unit / 2)))
    return image


def logo(height: int, text_color: tuple[int, int, int, int]) -> Image.Image:
    """Draw the icon followed by the name, on a transparent background."""
    font = ImageFont.load_default(size=round(height * 0.42))
    label = "Teams Presence Keeper"
    left, top, right, bottom = font.getbbox(label)
    width = height + round(height * 0.2) + round(right - left)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.alpha_composite(icon(height, (255, 255, 255, 255)))
    draw = ImageDraw.Draw(image)
    draw.text(
        (height + round(height * 0.2) - left, (height - (bottom - top)) / 2 - top),
        label,
        font=font,
        fill=text_color,
    )
    return image


def main() -> None:
    """Write every image the brand folder needs."""
    BRAND.mkdir(exist_ok=True)
    for prefix, ring, text in (
        ("", (255, 255, 255, 255), (36, 36, 36, 255)),
        ("dark_", (41, 41, 41, 255), (240, 240, 240, 255)),
    ):
        icon(256, ring).save(BRAND / f"{prefix}icon.png", optimize=True)
        icon(512, ring).save(BRAND / f"{prefix}icon@2x.png", optimize=True)
        logo(128, text).save(BRAND / f"{prefix}logo.png", optimize=True)
        logo(256, text).save(BRAND / f"{prefix}logo@2x.png", optimize=True)


if __name__ == "__main__":
    main()
