using Tessera.Models.Data.World;

namespace Tessera.Models.Data.Images;

/// <summary>
/// Augmentations over <see cref="ImageSample"/>: every geometric one moves the image, masks, depth
/// and boxes together. Random draws come from a <see cref="SceneRandom"/> (a Philox Generator), so
/// a seeded pipeline gives the same result everywhere.
/// </summary>
public static class Augment
{
    /// <summary>Mirror left-right.</summary>
    public static ImageSample HorizontalFlip(ImageSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        return Resample(sample, sample.Width, sample.Height, -1f, sample.Width, 1f, 0f);
    }

    public static ImageSample RandomHorizontalFlip(ImageSample sample, SceneRandom random, float probability = 0.5f) =>
        random.Chance(probability) ? HorizontalFlip(sample) : sample;

    /// <summary>Crops (x, y, width, height) in source pixels and resizes it to outWidth x outHeight.</summary>
    public static ImageSample ResizedCrop(ImageSample sample, float x, float y, float width, float height, int outWidth, int outHeight)
    {
        ArgumentNullException.ThrowIfNull(sample);
        return Resample(sample, outWidth, outHeight, width / outWidth, x, height / outHeight, y);
    }

    /// <summary>
    /// torchvision's RandomResizedCrop: area fraction in <paramref name="scaleLow"/>..<paramref name="scaleHigh"/>,
    /// log-uniform aspect ratio in 3/4..4/3, ten tries, then the largest centred crop that fits the ratio range.
    /// </summary>
    public static ImageSample RandomResizedCrop(ImageSample sample, SceneRandom random, int outSize, float scaleLow = 0.08f, float scaleHigh = 1f,
                                                float ratioLow = 3f / 4f, float ratioHigh = 4f / 3f)
    {
        ArgumentNullException.ThrowIfNull(sample);
        float area = sample.Width * sample.Height;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            float target = area * random.Range(scaleLow, scaleHigh);
            float ratio = random.LogRange(ratioLow, ratioHigh);
            int w = (int)MathF.Round(MathF.Sqrt(target * ratio)), h = (int)MathF.Round(MathF.Sqrt(target / ratio));
            if (w > 0 && h > 0 && w <= sample.Width && h <= sample.Height)
            {
                int x = random.NextInt(sample.Width - w + 1), y = random.NextInt(sample.Height - h + 1);
                return ResizedCrop(sample, x, y, w, h, outSize, outSize);
            }
        }
        float inRatio = (float)sample.Width / sample.Height;
        int cw = sample.Width, ch = sample.Height;
        if (inRatio < ratioLow) ch = (int)MathF.Round(cw / ratioLow);
        else if (inRatio > ratioHigh) cw = (int)MathF.Round(ch * ratioHigh);
        return ResizedCrop(sample, (sample.Width - cw) / 2, (sample.Height - ch) / 2, cw, ch, outSize, outSize);
    }

    /// <summary>
    /// Detection scale jitter: resize by a factor in low..high, then crop (random offset) or pad
    /// (grey image, ignore masks, far depth) back to the original size. Boxes are scaled, shifted and clipped;
    /// boxes left with no area are dropped.
    /// </summary>
    public static ImageSample ScaleJitter(ImageSample sample, SceneRandom random, float low = 0.5f, float high = 1.5f)
    {
        ArgumentNullException.ThrowIfNull(sample);
        float factor = random.LogRange(low, high);
        float scaledWidth = sample.Width * factor, scaledHeight = sample.Height * factor;
        // Offset of the output window inside the scaled image (negative = padding on the left/top).
        float offsetX = scaledWidth >= sample.Width ? random.Range(0f, scaledWidth - sample.Width) : -random.Range(0f, sample.Width - scaledWidth);
        float offsetY = scaledHeight >= sample.Height ? random.Range(0f, scaledHeight - sample.Height) : -random.Range(0f, sample.Height - scaledHeight);
        offsetX = MathF.Round(offsetX);
        offsetY = MathF.Round(offsetY);
        return Resample(sample, sample.Width, sample.Height, 1f / factor, offsetX / factor, 1f / factor, offsetY / factor);
    }

    /// <summary>Brightness, contrast and saturation factors drawn in [1 - s, 1 + s], applied in that order; the image only.</summary>
    public static ImageSample ColorJitter(ImageSample sample, SceneRandom random, float brightness = 0.4f, float contrast = 0.4f, float saturation = 0.4f)
    {
        ArgumentNullException.ThrowIfNull(sample);
        float b = random.Range(1f - brightness, 1f + brightness);
        float c = random.Range(1f - contrast, 1f + contrast);
        float s = random.Range(1f - saturation, 1f + saturation);
        int plane = sample.Width * sample.Height;
        var image = (float[])sample.Image.Clone();
        for (int i = 0; i < image.Length; i++) image[i] = Math.Clamp(image[i] * b, 0f, 1f);
        double meanGrey = 0;
        for (int p = 0; p < plane; p++) meanGrey += Grey(image, p, plane);
        float mean = (float)(meanGrey / plane);
        for (int i = 0; i < image.Length; i++) image[i] = Math.Clamp(mean + (image[i] - mean) * c, 0f, 1f);
        for (int p = 0; p < plane; p++)
        {
            float grey = Grey(image, p, plane);
            for (int ch = 0; ch < 3; ch++)
                image[ch * plane + p] = Math.Clamp(grey + (image[ch * plane + p] - grey) * s, 0f, 1f);
        }
        return new ImageSample
        {
            Width = sample.Width, Height = sample.Height, Image = image,
            Semantic = sample.Semantic, Instance = sample.Instance, Depth = sample.Depth, Boxes = sample.Boxes, BoxLabels = sample.BoxLabels, BoxIds = sample.BoxIds,
        };
    }

    /// <summary>Random rotation by an angle drawn uniformly in [-maxDegrees, maxDegrees] (see <see cref="Rotate"/>).</summary>
    public static ImageSample RandomRotation(ImageSample sample, SceneRandom random, float maxDegrees = 30f)
    {
        ArgumentNullException.ThrowIfNull(random);
        return Rotate(sample, random.Range(-maxDegrees, maxDegrees));
    }

    /// <summary>
    /// Rotates about the image centre by <paramref name="degrees"/> (counter-clockwise on screen),
    /// keeping the size (torchvision's rotate without expand). Image bilinear, masks and depth
    /// nearest; corners that come from outside are grey, ignore and far. Each box becomes the
    /// bounding box of its rotated corners, clipped; boxes left with no area are dropped.
    /// </summary>
    public static ImageSample Rotate(ImageSample sample, float degrees)
    {
        ArgumentNullException.ThrowIfNull(sample);
        int w = sample.Width, h = sample.Height, plane = w * h;
        float angle = degrees * MathF.PI / 180f, cos = MathF.Cos(angle), sin = MathF.Sin(angle);
        float cx = w * 0.5f, cy = h * 0.5f;
        var image = new float[3 * plane];
        var semantic = sample.Semantic is null ? null : new byte[plane];
        var instance = sample.Instance is null ? null : new byte[plane];
        var depth = sample.Depth is null ? null : new float[plane];
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++)
            {
                // Inverse map: the source point that lands on output pixel centre (j + 0.5, i + 0.5); y points down.
                float dx = j + 0.5f - cx, dy = i + 0.5f - cy;
                float sx = cos * dx - sin * dy + cx, sy = sin * dx + cos * dy + cy;
                SamplePixel(sample, sx, sy, i * w + j, plane, image, semantic, instance, depth);
            }
        var boxes = new List<Box>();
        var labels = new List<int>();
        var ids = new List<int>();
        for (int k = 0; k < sample.Boxes.Length; k++)
        {
            var box = sample.Boxes[k];
            float x1 = float.MaxValue, y1 = float.MaxValue, x2 = float.MinValue, y2 = float.MinValue;
            foreach (var (px, py) in new[] { (box.X1, box.Y1), (box.X2, box.Y1), (box.X1, box.Y2), (box.X2, box.Y2) })
            {
                // Forward map (the inverse of the sampling above).
                float dx = px - cx, dy = py - cy;
                float qx = cos * dx + sin * dy + cx, qy = -sin * dx + cos * dy + cy;
                x1 = MathF.Min(x1, qx); y1 = MathF.Min(y1, qy); x2 = MathF.Max(x2, qx); y2 = MathF.Max(y2, qy);
            }
            var moved = new Box(Math.Clamp(x1, 0f, w), Math.Clamp(y1, 0f, h), Math.Clamp(x2, 0f, w), Math.Clamp(y2, 0f, h));
            if (moved.Width <= 0f || moved.Height <= 0f) continue;
            boxes.Add(moved);
            labels.Add(sample.BoxLabels[k]);
            if (sample.BoxIds.Length > k) ids.Add(sample.BoxIds[k]);
        }
        return new ImageSample
        {
            Width = w, Height = h, Image = image, Semantic = semantic, Instance = instance, Depth = depth,
            Boxes = boxes.ToArray(), BoxLabels = labels.ToArray(), BoxIds = ids.ToArray(),
        };
    }

    private static float Grey(float[] image, int p, int plane) => 0.299f * image[p] + 0.587f * image[plane + p] + 0.114f * image[2 * plane + p];

    /// <summary>
    /// Writes output pixel <paramref name="o"/> from source point (sx, sy) in pixels: image
    /// bilinear, masks and depth nearest; outside the source the image is grey, masks ignore
    /// (instance 0), depth far. The one sampling rule of <see cref="Resample"/> and <see cref="Rotate"/>.
    /// </summary>
    private static void SamplePixel(ImageSample sample, float sx, float sy, int o, int outPlane,
        float[] image, byte[]? semantic, byte[]? instance, float[]? depth)
    {
        int w = sample.Width, h = sample.Height, inPlane = w * h;
        if (!(sx >= 0f && sy >= 0f && sx < w && sy < h))
        {
            image[o] = image[outPlane + o] = image[2 * outPlane + o] = 0.5f;
            if (semantic is not null) semantic[o] = ImageSample.Ignore;
            if (instance is not null) instance[o] = 0;
            if (depth is not null) depth[o] = SceneRenderer.FarDepth;
            return;
        }
        int n = (int)sy * w + (int)sx;
        if (semantic is not null) semantic[o] = sample.Semantic![n];
        if (instance is not null) instance[o] = sample.Instance![n];
        if (depth is not null) depth[o] = sample.Depth![n];
        float fx = Math.Clamp(sx - 0.5f, 0f, w - 1), fy = Math.Clamp(sy - 0.5f, 0f, h - 1);
        int x0 = (int)fx, y0 = (int)fy, x1 = Math.Min(x0 + 1, w - 1), y1 = Math.Min(y0 + 1, h - 1);
        float tx = fx - x0, ty = fy - y0;
        for (int c = 0; c < 3; c++)
        {
            var src = sample.Image.AsSpan(c * inPlane, inPlane);
            float top = src[y0 * w + x0] + (src[y0 * w + x1] - src[y0 * w + x0]) * tx;
            float bottom = src[y1 * w + x0] + (src[y1 * w + x1] - src[y1 * w + x0]) * tx;
            image[c * outPlane + o] = top + (bottom - top) * ty;
        }
    }

    /// <summary>
    /// The one geometric primitive: output pixel centre (j + 0.5, i + 0.5) reads the source at
    /// x = (j + 0.5) * scaleX + offsetX, y likewise (a negative scale mirrors). Image bilinear,
    /// masks and depth nearest; outside the source the image is grey, masks ignore, depth far.
    /// </summary>
    public static ImageSample Resample(ImageSample sample, int outWidth, int outHeight, float scaleX, float offsetX, float scaleY, float offsetY)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentOutOfRangeException.ThrowIfLessThan(outWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outHeight, 1);
        int outPlane = outWidth * outHeight;
        var image = new float[3 * outPlane];
        var semantic = sample.Semantic is null ? null : new byte[outPlane];
        var instance = sample.Instance is null ? null : new byte[outPlane];
        var depth = sample.Depth is null ? null : new float[outPlane];
        for (int i = 0; i < outHeight; i++)
        {
            float sy = (i + 0.5f) * scaleY + offsetY;
            for (int j = 0; j < outWidth; j++)
            {
                float sx = (j + 0.5f) * scaleX + offsetX;
                SamplePixel(sample, sx, sy, i * outWidth + j, outPlane, image, semantic, instance, depth);
            }
        }
        var boxes = new List<Box>();
        var labels = new List<int>();
        var ids = new List<int>();
        for (int k = 0; k < sample.Boxes.Length; k++)
        {
            var box = sample.Boxes[k];
            float ax = (box.X1 - offsetX) / scaleX, bx = (box.X2 - offsetX) / scaleX;
            float ay = (box.Y1 - offsetY) / scaleY, by = (box.Y2 - offsetY) / scaleY;
            var moved = new Box(Math.Clamp(MathF.Min(ax, bx), 0f, outWidth), Math.Clamp(MathF.Min(ay, by), 0f, outHeight),
                                Math.Clamp(MathF.Max(ax, bx), 0f, outWidth), Math.Clamp(MathF.Max(ay, by), 0f, outHeight));
            if (moved.Width <= 0f || moved.Height <= 0f) continue;
            boxes.Add(moved);
            labels.Add(sample.BoxLabels[k]);
            if (sample.BoxIds.Length > k) ids.Add(sample.BoxIds[k]);
        }
        return new ImageSample
        {
            Width = outWidth, Height = outHeight, Image = image, Semantic = semantic, Instance = instance, Depth = depth,
            Boxes = boxes.ToArray(), BoxLabels = labels.ToArray(), BoxIds = ids.ToArray(),
        };
    }
}
