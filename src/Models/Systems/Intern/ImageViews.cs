using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Systems.Intern;

/// <summary>How one augmented view was cut from its image: a square crop at (X0, Y0) of side Side (pixels of the original), resized to the image size, then mirrored when Flip.</summary>
public sealed record ViewTransform(float X0, float Y0, float Side, bool Flip, int Size)
{
    /// <summary>A box (x1, y1, x2, y2) of the original image in this view's pixels (clamped to the view).</summary>
    public (float X1, float Y1, float X2, float Y2) Map(float x1, float y1, float x2, float y2)
    {
        float scale = Size / Side;
        float a = (x1 - X0) * scale, b = (x2 - X0) * scale;
        if (Flip) (a, b) = (Size - b, Size - a);
        float c = (y1 - Y0) * scale, d = (y2 - Y0) * scale;
        return (Math.Clamp(a, 0, Size), Math.Clamp(c, 0, Size), Math.Clamp(b, 0, Size), Math.Clamp(d, 0, Size));
    }
}

/// <summary>
/// The image augmentation of Up-A's two views (no gradient, on the host): a random square crop of
/// 60-100% of the side (our choice, milder than SimCLR's 8% area: the world's objects are small),
/// bilinear resize back to the image size, a horizontal flip with probability 0.5, and brightness
/// (±0.4 in normalised units) and contrast (x0.7-1.3) jitter per image.
/// </summary>
public static class ImageViews
{
    public static (Tensor Views, ViewTransform[] Transforms) Augment(Tensor images, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(images);
        int batch = images.Size(0), channels = images.Size(1), size = images.Size(2);
        if (images.Size(3) != size)
            throw new ArgumentException($"ImageViews: expected square images, found {images.Size(2)}x{images.Size(3)}", nameof(images));
        var source = images.Contiguous().ToArray<float>();
        var output = new float[source.Length];
        var transforms = new ViewTransform[batch];
        var u = new float[6];
        int plane = size * size;
        for (int b = 0; b < batch; b++)
        {
            generator.Uniform(u);
            float side = size * (0.6f + 0.4f * u[0]);
            float x0 = (size - side) * u[1], y0 = (size - side) * u[2];
            bool flip = u[3] < 0.5f;
            float brightness = (u[4] - 0.5f) * 0.8f, contrast = 0.7f + 0.6f * u[5];
            transforms[b] = new ViewTransform(x0, y0, side, flip, size);
            float step = side / size;
            for (int c = 0; c < channels; c++)
            {
                var src = source.AsSpan((b * channels + c) * plane, plane);
                var dst = output.AsSpan((b * channels + c) * plane, plane);
                for (int i = 0; i < size; i++)
                {
                    float sy = Math.Clamp(y0 + (i + 0.5f) * step - 0.5f, 0, size - 1);
                    int yA = (int)sy, yB = Math.Min(yA + 1, size - 1);
                    float wy = sy - yA;
                    for (int j = 0; j < size; j++)
                    {
                        int jj = flip ? size - 1 - j : j;
                        float sx = Math.Clamp(x0 + (jj + 0.5f) * step - 0.5f, 0, size - 1);
                        int xA = (int)sx, xB = Math.Min(xA + 1, size - 1);
                        float wx = sx - xA;
                        float top = src[yA * size + xA] * (1 - wx) + src[yA * size + xB] * wx;
                        float bottom = src[yB * size + xA] * (1 - wx) + src[yB * size + xB] * wx;
                        dst[i * size + j] = (top * (1 - wy) + bottom * wy) * contrast + brightness;
                    }
                }
            }
        }
        return (Tensor.FromArray(output, batch, channels, size, size), transforms);
    }
}
