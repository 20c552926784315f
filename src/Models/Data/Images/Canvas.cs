using SkiaSharp;

namespace Tessera.Models.Data.Images;

/// <summary>An 8-bit RGB drawing surface for previews: images, translucent fills, box outlines and antialiased text.</summary>
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

    /// <summary>Height of one line of <see cref="DrawText"/> text, in pixels.</summary>
    public const int LineHeight = 15;

    /// <summary>An upper bound of the average character width of <see cref="DrawText"/> text, for wrapping.</summary>
    public const int CharWidth = 7;

    private const float FontSize = 11.5f;

    /// <summary>
    /// Draws antialiased text (the plots' sans font, through Skia) with its top-left corner at
    /// (left, top), blended over the pixels; <paramref name="scale"/> multiplies the size.
    /// </summary>
    public void DrawText(string text, int left, int top, (byte R, byte G, byte B) colour, int scale = 1)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) return;
        using var font = new SKFont(Plotting.PlotStyle.SansFamily is string family ? SKTypeface.FromFamilyName(family) : SKTypeface.Default, FontSize * scale);
        int width = (int)MathF.Ceiling(font.MeasureText(text)) + 2, height = LineHeight * scale;
        using var mask = new SKBitmap(new SKImageInfo(width, height, SKColorType.Alpha8, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(mask))
        using (var paint = new SKPaint { IsAntialias = true, Color = SKColors.Black })
        {
            canvas.Clear(SKColors.Transparent);
            canvas.DrawText(text, 1, FontSize * scale, SKTextAlign.Left, font, paint);
        }
        var coverage = mask.GetPixelSpan();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                byte a = coverage[y * mask.RowBytes + x];
                if (a > 0) Blend(left + x, top + y, colour, a / 255f);
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

    /// <summary>Writes the canvas as a PNG (atomically).</summary>
    public void Save(string path) => ImageCodec.WritePng(path, Pixels, Width, Height);

    private static byte ToByte(float value) => (byte)Math.Clamp((int)MathF.Round(value * 255f), 0, 255);
}
