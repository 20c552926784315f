using SkiaSharp;

namespace Tessera.Models.Data.Images;

/// <summary>A decoded image: 8-bit RGB, interleaved ([height, width, 3], row-major).</summary>
public sealed record RgbImage(int Width, int Height, byte[] Pixels)
{
    /// <summary>The image as planar floats [3, height, width] in [0, 1], the layout tensors and augmentations use.</summary>
    public float[] ToPlanar()
    {
        int plane = Width * Height;
        var planar = new float[3 * plane];
        for (int p = 0; p < plane; p++)
        {
            planar[p] = Pixels[3 * p] / 255f;
            planar[plane + p] = Pixels[3 * p + 1] / 255f;
            planar[2 * plane + p] = Pixels[3 * p + 2] / 255f;
        }
        return planar;
    }
}

/// <summary>
/// Why an image could not be decoded: <see cref="Reason"/> names the class of failure, the message
/// says what was found and what to do. The one exception type <see cref="ImageCodec.Decode"/>
/// throws for bad bytes (an <see cref="IOException"/>: callers that already handle unreadable
/// files handle it too).
/// </summary>
public sealed class ImageDecodeException(ImageDecodeFailure reason, string message) : IOException(message)
{
    public ImageDecodeFailure Reason { get; } = reason;
}

/// <summary>The classes of decode failure, for callers that count skipped files by cause.</summary>
public enum ImageDecodeFailure
{
    /// <summary>Not an image format the codec knows (text, an empty file, a format without a decoder).</summary>
    UnknownFormat,
    /// <summary>The header declares more pixels than <see cref="ImageDecodeLimits.MaxPixels"/> (a decompression bomb or a huge scan).</summary>
    TooLarge,
    /// <summary>The header is readable but the pixel data ends early.</summary>
    Truncated,
    /// <summary>The pixel data is damaged.</summary>
    Corrupt,
}

/// <summary>What <see cref="ImageCodec.Decode"/> accepts, checked from the header before any pixel buffer is allocated.</summary>
public sealed record ImageDecodeLimits(long MaxPixels = ImageDecodeLimits.DefaultMaxPixels, long MaxBytes = ImageDecodeLimits.DefaultMaxBytes)
{
    /// <summary>64 megapixels (256 MiB as RGBA): far above any training image, far below what a crafted header can declare.</summary>
    public const long DefaultMaxPixels = 64L * 1024 * 1024;

    /// <summary>File size cap (256 MiB).</summary>
    public const long DefaultMaxBytes = 256L * 1024 * 1024;

    public static ImageDecodeLimits Default { get; } = new();
}

/// <summary>
/// Image decoding and encoding through SkiaSharp (docs/DATA.md says why Skia, not ImageSharp).
/// <see cref="Decode"/> is the single entry point for untrusted bytes: PNG, JPEG, WebP, GIF (first
/// frame), BMP, ICO and WBMP in; grey, grey+alpha, palette, 16-bit and CMYK inputs all come out as
/// 8-bit RGB (alpha is dropped, as PIL's convert("RGB") does). Failures are an
/// <see cref="ImageDecodeException"/>; nothing else escapes for bad bytes.
/// </summary>
public static class ImageCodec
{
    /// <summary>File name extensions <see cref="Decode"/> understands (lower case, with the dot).</summary>
    public static IReadOnlySet<string> Extensions { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        { ".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp" };

    /// <summary>
    /// Decodes <paramref name="bytes"/> to RGB. The header is read first and its declared size is
    /// checked against <paramref name="limits"/> before the pixel buffer is allocated.
    /// </summary>
    /// <param name="name">What to call the image in messages (its path), or null.</param>
    public static RgbImage Decode(ReadOnlySpan<byte> bytes, ImageDecodeLimits? limits = null, string? name = null)
    {
        limits ??= ImageDecodeLimits.Default;
        string what = name ?? "image";
        if (bytes.Length == 0)
            throw new ImageDecodeException(ImageDecodeFailure.UnknownFormat, $"{what}: the file is empty (0 bytes); expected a PNG, JPEG, WebP, GIF or BMP image");
        if (bytes.Length > limits.MaxBytes)
            throw new ImageDecodeException(ImageDecodeFailure.TooLarge, $"{what}: {bytes.Length:N0} bytes is over the {limits.MaxBytes:N0}-byte limit for one image; shrink the file or raise ImageDecodeLimits.MaxBytes");
        using var data = SKData.CreateCopy(bytes);
        // The codec takes the stream over (SkiaSharp revokes the wrapper's ownership); disposing the wrapper is then a no-op.
        using var stream = new SKMemoryStream(data);
        using var codec = SKCodec.Create(stream, out var created);
        // Skia answers IncompleteInput both for a cut-off header and for a few bytes it cannot place: the signature tells which.
        if (codec is null && created == SKCodecResult.IncompleteInput && HasImageSignature(bytes))
            throw new ImageDecodeException(ImageDecodeFailure.Truncated, $"{what}: truncated: the file ends inside the image header ({bytes.Length:N0} bytes); re-copy or re-export the file");
        if (codec is null)
            throw new ImageDecodeException(ImageDecodeFailure.UnknownFormat,
                $"{what}: not a readable image ({Describe(created)}; starts with {Signature(bytes)}); expected a PNG, JPEG, WebP, GIF or BMP file");
        var info = codec.Info;
        long pixels = (long)info.Width * info.Height;
        if (info.Width <= 0 || info.Height <= 0)
            throw new ImageDecodeException(ImageDecodeFailure.Corrupt, $"{what}: the header declares {info.Width}x{info.Height} pixels; expected a positive width and height");
        if (pixels > limits.MaxPixels)
            throw new ImageDecodeException(ImageDecodeFailure.TooLarge,
                $"{what}: the header declares {info.Width}x{info.Height} = {pixels:N0} pixels, over the {limits.MaxPixels:N0}-pixel limit (checked before decoding, so a crafted header cannot exhaust memory); resize the image or raise ImageDecodeLimits.MaxPixels");
        // Unpremultiplied 8-bit RGBA in sRGB: Skia converts grey, palette, 16-bit and CMYK sources into it.
        var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul, SKColorSpace.CreateSrgb());
        var rgba = new byte[checked(4 * (int)pixels)];
        SKCodecResult result;
        unsafe
        {
            fixed (byte* pointer = rgba)
                result = codec.GetPixels(target, (IntPtr)pointer);
        }
        switch (result)
        {
            case SKCodecResult.Success:
                break;
            case SKCodecResult.IncompleteInput:
                throw new ImageDecodeException(ImageDecodeFailure.Truncated, $"{what}: truncated: the {codec.EncodedFormat} data ends before the last row ({bytes.Length:N0} bytes); re-copy or re-export the file");
            case SKCodecResult.ErrorInInput:
                throw new ImageDecodeException(ImageDecodeFailure.Corrupt, $"{what}: the {codec.EncodedFormat} pixel data is damaged; re-copy or re-export the file");
            default:
                throw new ImageDecodeException(ImageDecodeFailure.Corrupt, $"{what}: {codec.EncodedFormat} {info.Width}x{info.Height} could not be decoded ({Describe(result)}); re-export it as 8-bit PNG or JPEG");
        }
        var rgb = new byte[checked(3 * (int)pixels)];
        for (long p = 0; p < pixels; p++)
        {
            rgb[3 * p] = rgba[4 * p];
            rgb[3 * p + 1] = rgba[4 * p + 1];
            rgb[3 * p + 2] = rgba[4 * p + 2];
        }
        return new RgbImage(info.Width, info.Height, rgb);
    }

    /// <summary>Reads and decodes a file; a missing file is a <see cref="FileNotFoundException"/>, bad bytes an <see cref="ImageDecodeException"/>.</summary>
    public static RgbImage Read(string path, ImageDecodeLimits? limits = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        limits ??= ImageDecodeLimits.Default;
        var file = new FileInfo(path);
        if (!file.Exists)
            throw new FileNotFoundException($"image '{path}' does not exist", path);
        if (file.Length > limits.MaxBytes)
            throw new ImageDecodeException(ImageDecodeFailure.TooLarge, $"{path}: {file.Length:N0} bytes is over the {limits.MaxBytes:N0}-byte limit for one image; shrink the file or raise ImageDecodeLimits.MaxBytes");
        return Decode(File.ReadAllBytes(path), limits, path);
    }

    /// <summary>Encodes interleaved 8-bit RGB ([height, width, 3]) as PNG.</summary>
    public static byte[] EncodePng(ReadOnlySpan<byte> rgb, int width, int height) => Encode(rgb, width, height, SKEncodedImageFormat.Png, 100);

    /// <summary>Encodes interleaved 8-bit RGB ([height, width, 3]) as JPEG at <paramref name="quality"/> (1..100).</summary>
    public static byte[] EncodeJpeg(ReadOnlySpan<byte> rgb, int width, int height, int quality = 90)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        return Encode(rgb, width, height, SKEncodedImageFormat.Jpeg, quality);
    }

    /// <summary>Writes a PNG file atomically (temp file + rename), so a crash never leaves half a file.</summary>
    public static void WritePng(string path, ReadOnlySpan<byte> rgb, int width, int height) =>
        Training.AtomicFile.WriteAllBytes(path, EncodePng(rgb, width, height));

    /// <summary>Encodes a Skia bitmap (any colour type) as PNG; for drawings made with Skia directly.</summary>
    public static byte[] EncodePng(SKBitmap bitmap)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        using var image = SKImage.FromBitmap(bitmap);
        using var encoded = image.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException($"Skia could not encode a {bitmap.Width}x{bitmap.Height} {bitmap.ColorType} bitmap as PNG");
        return encoded.ToArray();
    }

    private static byte[] Encode(ReadOnlySpan<byte> rgb, int width, int height, SKEncodedImageFormat format, int quality)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (rgb.Length != (long)width * height * 3)
            throw new ArgumentException($"expected {width}x{height}x3 = {(long)width * height * 3} bytes of RGB, got {rgb.Length}", nameof(rgb));
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = bitmap.GetPixelSpan();
        for (int p = 0; p < width * height; p++)
        {
            rgba[4 * p] = rgb[3 * p];
            rgba[4 * p + 1] = rgb[3 * p + 1];
            rgba[4 * p + 2] = rgb[3 * p + 2];
            rgba[4 * p + 3] = 255;
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var encoded = image.Encode(format, quality)
            ?? throw new InvalidOperationException($"Skia could not encode a {width}x{height} image as {format}");
        return encoded.ToArray();
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.Unimplemented => "no decoder for this format",
        SKCodecResult.InvalidInput => "unrecognised or damaged header",
        SKCodecResult.IncompleteInput => "the header is cut off",
        SKCodecResult.InvalidConversion => "unsupported colour conversion",
        _ => result.ToString(),
    };

    private static bool HasImageSignature(ReadOnlySpan<byte> bytes) =>
        bytes.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G']) || bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF])
        || bytes.StartsWith("GIF8"u8) || bytes.StartsWith("BM"u8) || (bytes.StartsWith("RIFF"u8) && bytes.Length >= 12 && bytes[8..12].SequenceEqual("WEBP"u8));

    private static string Signature(ReadOnlySpan<byte> bytes)
    {
        var head = bytes[..Math.Min(8, bytes.Length)];
        return "bytes " + Convert.ToHexString(head).ToLowerInvariant();
    }
}

/// <summary>Resampling of decoded images through Skia (linear filtering with mipmaps, so large downscales do not alias).</summary>
public static class ImageResize
{
    /// <summary>The image resized to exactly <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static RgbImage To(RgbImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (width == image.Width && height == image.Height) return image;
        using var source = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = source.GetPixelSpan();
        for (int p = 0; p < image.Width * image.Height; p++)
        {
            rgba[4 * p] = image.Pixels[3 * p];
            rgba[4 * p + 1] = image.Pixels[3 * p + 1];
            rgba[4 * p + 2] = image.Pixels[3 * p + 2];
            rgba[4 * p + 3] = 255;
        }
        using var skImage = SKImage.FromBitmap(source);
        using var target = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        if (!skImage.ScalePixels(target.PeekPixels(), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear)))
            throw new InvalidOperationException($"Skia could not resize a {image.Width}x{image.Height} image to {width}x{height}");
        var scaled = target.GetPixelSpan();
        var rgb = new byte[width * height * 3];
        for (int p = 0; p < width * height; p++)
        {
            rgb[3 * p] = scaled[4 * p];
            rgb[3 * p + 1] = scaled[4 * p + 1];
            rgb[3 * p + 2] = scaled[4 * p + 2];
        }
        return new RgbImage(width, height, rgb);
    }

    /// <summary>The image scaled (aspect kept) so that its shorter side is <paramref name="side"/> pixels.</summary>
    public static RgbImage ShorterSide(RgbImage image, int side)
    {
        ArgumentNullException.ThrowIfNull(image);
        double scale = (double)side / Math.Min(image.Width, image.Height);
        return To(image, Math.Max(side, (int)Math.Round(image.Width * scale)), Math.Max(side, (int)Math.Round(image.Height * scale)));
    }
}
