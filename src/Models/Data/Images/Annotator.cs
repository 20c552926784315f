using SkiaSharp;
using Tessera.Models.Plotting;

namespace Tessera.Models.Data.Images;

/// <summary>
/// Draws images with their labels for reports and previews through Skia: an image tile scaled up
/// (nearest, so pixels stay visible), filled translucent class masks, labelled boxes and captions
/// in the same sans font as the plots, with a dark outline under the text so it reads on any background.
/// </summary>
public sealed class Annotator : IDisposable
{
    private readonly SKBitmap _bitmap;
    private readonly SKCanvas _canvas;
    private readonly SKFont _font;

    public Annotator(int width, int height, SKColor background)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        _bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        _canvas = new SKCanvas(_bitmap);
        _canvas.Clear(background);
        _font = new SKFont(PlotStyle.SansFamily is string family ? SKTypeface.FromFamilyName(family) : SKTypeface.Default, 12);
    }

    public int Width => _bitmap.Width;

    public int Height => _bitmap.Height;

    /// <summary>Line height of <see cref="Text"/> at <paramref name="size"/> points.</summary>
    public static int LineHeight(float size = 12) => (int)MathF.Ceiling(size * 1.3f);

    /// <summary>A distinct colour per class index (Category10, then a golden-angle hue walk).</summary>
    public static SKColor ClassColour(int index)
    {
        if (index < 10)
        {
            var c = PlotStyle.Colour(index);
            return new SKColor(c.R, c.G, c.B);
        }
        return SKColor.FromHsl(index * 137.508f % 360f, 70, 50);
    }

    /// <summary>Draws a planar float image [3, h, w] at (left, top) scaled by <paramref name="scale"/>; values are min-max stretched per image when <paramref name="stretch"/> (normalised network inputs), else read as 0..1.</summary>
    public void Image(ReadOnlySpan<float> planar, int width, int height, int left, int top, int scale, bool stretch = false)
    {
        int plane = width * height;
        float low = 0, high = 1;
        if (stretch)
        {
            low = float.PositiveInfinity;
            high = float.NegativeInfinity;
            foreach (float v in planar[..(3 * plane)])
            {
                low = MathF.Min(low, v);
                high = MathF.Max(high, v);
            }
            if (!(high > low)) high = low + 1;
        }
        using var tile = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = tile.GetPixelSpan();
        for (int p = 0; p < plane; p++)
        {
            pixels[4 * p] = Byte((planar[p] - low) / (high - low));
            pixels[4 * p + 1] = Byte((planar[plane + p] - low) / (high - low));
            pixels[4 * p + 2] = Byte((planar[2 * plane + p] - low) / (high - low));
            pixels[4 * p + 3] = 255;
        }
        using var image = SKImage.FromBitmap(tile);
        _canvas.DrawImage(image, SKRect.Create(left, top, width * scale, height * scale), new SKSamplingOptions(SKFilterMode.Nearest));
    }

    /// <summary>Fills each pixel of a class map [h, w] with its class colour at <paramref name="opacity"/>; <paramref name="skip"/> (background, ignore) stays clear.</summary>
    public void Mask(ReadOnlySpan<long> classes, int width, int height, int left, int top, int scale, float opacity = 0.5f, params long[] skip)
    {
        using var paint = new SKPaint { IsAntialias = false, Style = SKPaintStyle.Fill };
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                long c = classes[y * width + x];
                if (Array.IndexOf(skip, c) >= 0) continue;
                paint.Color = ClassColour((int)c).WithAlpha((byte)(255 * opacity));
                _canvas.DrawRect(left + x * scale, top + y * scale, scale, scale, paint);
            }
    }

    /// <summary>A box outline (x1, y1, x2, y2 in image pixels, scaled) with an optional label above its top-left corner.</summary>
    public void Box(float x1, float y1, float x2, float y2, int left, int top, int scale, SKColor colour, string? label = null, bool dashed = false)
    {
        using var paint = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeWidth = 2, Color = colour };
        using var effect = dashed ? SKPathEffect.CreateDash([5, 3], 0) : null;
        paint.PathEffect = effect;
        _canvas.DrawRect(SKRect.Create(left + x1 * scale, top + y1 * scale, (x2 - x1) * scale, (y2 - y1) * scale), paint);
        if (label is not null) Label(label, left + x1 * scale, top + y1 * scale, colour, 10);
    }

    /// <summary>Text with its baseline at (x, y), for captions on the plain background.</summary>
    public void Text(string text, float x, float y, SKColor colour, float size = 12)
    {
        ArgumentNullException.ThrowIfNull(text);
        _font.Size = size;
        using var fill = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill, Color = colour };
        _canvas.DrawText(text, x, y, SKTextAlign.Left, _font, fill);
    }

    /// <summary>Text over an image: white on a tag of <paramref name="colour"/> whose top-left corner is (x, y), so it reads on any background.</summary>
    public void Label(string text, float x, float y, SKColor colour, float size = 11)
    {
        ArgumentNullException.ThrowIfNull(text);
        _font.Size = size;
        float width = _font.MeasureText(text);
        using var tag = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill, Color = colour.WithAlpha(220) };
        _canvas.DrawRect(x, y, width + 4, size + 3, tag);
        using var fill = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill, Color = SKColors.White };
        _canvas.DrawText(text, x + 2, y + size, SKTextAlign.Left, _font, fill);
    }

    /// <summary>Width in pixels of <paramref name="text"/> at <paramref name="size"/>.</summary>
    public float Measure(string text, float size = 12)
    {
        _font.Size = size;
        return _font.MeasureText(text ?? "");
    }

    /// <summary>Writes the drawing as a PNG (atomically).</summary>
    public void Save(string path)
    {
        _canvas.Flush();
        Training.AtomicFile.WriteAllBytes(path, ImageCodec.EncodePng(_bitmap));
    }

    /// <summary>The drawing as interleaved RGB bytes [height, width, 3].</summary>
    public byte[] ToRgb()
    {
        _canvas.Flush();
        using var opaque = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        _bitmap.CopyTo(opaque, SKColorType.Rgba8888);
        var rgba = opaque.GetPixelSpan();
        var rgb = new byte[Width * Height * 3];
        for (int p = 0; p < Width * Height; p++)
        {
            rgb[3 * p] = rgba[4 * p];
            rgb[3 * p + 1] = rgba[4 * p + 1];
            rgb[3 * p + 2] = rgba[4 * p + 2];
        }
        return rgb;
    }

    public void Dispose()
    {
        _font.Dispose();
        _canvas.Dispose();
        _bitmap.Dispose();
    }

    private static byte Byte(float value) => (byte)Math.Clamp((int)MathF.Round(value * 255f), 0, 255);
}
