namespace Tessera.Models.Data.Images;

/// <summary>An 8-bit RGB drawing surface for previews: images, translucent fills, box outlines and text.</summary>
public sealed class Canvas
{
    public Canvas(int width, int height, (byte R, byte G, byte B) background)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        Width = width;
        Height = height;
        Pixels = new byte[width * height * 3];
        for (int i = 0; i < width * height; i++)
        {
            Pixels[3 * i] = background.R;
            Pixels[3 * i + 1] = background.G;
            Pixels[3 * i + 2] = background.B;
        }
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>[height, width, 3] interleaved RGB.</summary>
    public byte[] Pixels { get; }

    /// <summary>Blends a colour over pixel (x, y) with opacity alpha (0..1); outside pixels are ignored.</summary>
    public void Blend(int x, int y, (byte R, byte G, byte B) colour, float alpha)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        int i = 3 * (y * Width + x);
        Pixels[i] = (byte)(Pixels[i] + (colour.R - Pixels[i]) * alpha);
        Pixels[i + 1] = (byte)(Pixels[i + 1] + (colour.G - Pixels[i + 1]) * alpha);
        Pixels[i + 2] = (byte)(Pixels[i + 2] + (colour.B - Pixels[i + 2]) * alpha);
    }

    public void Set(int x, int y, (byte R, byte G, byte B) colour) => Blend(x, y, colour, 1f);

    /// <summary>Draws a planar float image [3, h, w] in [0, 1] at (left, top), each pixel as a scale x scale block.</summary>
    public void DrawImage(ReadOnlySpan<float> planar, int width, int height, int left, int top, int scale)
    {
        int plane = width * height;
        for (int y = 0; y < height * scale; y++)
            for (int x = 0; x < width * scale; x++)
            {
                int p = (y / scale) * width + x / scale;
                Set(left + x, top + y, (ToByte(planar[p]), ToByte(planar[plane + p]), ToByte(planar[2 * plane + p])));
            }
    }

    /// <summary>A one-pixel rectangle outline from (x1, y1) to (x2, y2) inclusive.</summary>
    public void DrawRectangle(int x1, int y1, int x2, int y2, (byte R, byte G, byte B) colour)
    {
        for (int x = x1; x <= x2; x++)
        {
            Set(x, y1, colour);
            Set(x, y2, colour);
        }
        for (int y = y1; y <= y2; y++)
        {
            Set(x1, y, colour);
            Set(x2, y, colour);
        }
    }

    /// <summary>Draws text with <see cref="BitmapFont"/>; characters the font lacks are drawn as spaces.</summary>
    public void DrawText(string text, int left, int top, (byte R, byte G, byte B) colour, int scale = 1)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (int k = 0; k < text.Length; k++)
        {
            var glyph = BitmapFont.Glyph(text[k]);
            if (glyph is null) continue;
            int x0 = left + k * BitmapFont.Advance * scale;
            for (int cell = 0; cell < glyph.Length; cell++)
            {
                if (glyph[cell] != '#') continue;
                int gx = cell % BitmapFont.GlyphWidth, gy = cell / BitmapFont.GlyphWidth;
                for (int dy = 0; dy < scale; dy++)
                    for (int dx = 0; dx < scale; dx++)
                        Set(x0 + gx * scale + dx, top + gy * scale + dy, colour);
            }
        }
    }

    /// <summary>Splits text into lines of at most <paramref name="maxChars"/> characters at spaces.</summary>
    public static List<string> Wrap(string text, int maxChars)
    {
        var lines = new List<string>();
        var line = "";
        foreach (var word in (text ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > maxChars)
            {
                lines.Add(line);
                line = "";
            }
            line = line.Length == 0 ? word : line + " " + word;
        }
        if (line.Length > 0) lines.Add(line);
        return lines;
    }

    public void Save(string path) => ImageCodec.WritePng(path, Pixels, Width, Height);

    private static byte ToByte(float value) => (byte)Math.Clamp((int)MathF.Round(value * 255f), 0, 255);
}
