using System.Runtime.CompilerServices;

namespace Tessera.Models.Data.World;

/// <summary>
/// Rasterises a <see cref="SceneLayout"/>: background stuff, then objects far to near with
/// analytic anti-aliasing (coverage = 0.5 - signed distance in pixels), filling the image,
/// instance, semantic and depth buffers in the same passes. A pixel belongs to the nearest object
/// whose coverage there is at least one half, which is what the masks, boxes and depth record.
/// </summary>
public static class SceneRenderer
{
    public const float FarDepth = 10f;

    // The shape SDFs are 1-Lipschitz in pixels except the heart's (about 1.07); 0.9 leaves a margin.
    private const float InverseLipschitz = 0.9f;

    /// <summary>Tests turn run skipping off on their thread to check it changes no output bit.</summary>
    [ThreadStatic] internal static bool DisableRunSkipping;

    /// <summary>Renders into <paramref name="buffers"/> and returns the visible objects (annotation order) with their tight boxes.</summary>
    public static (SceneObject[] Objects, Box[] Boxes, int[] PixelCounts) Render(SceneLayout layout, SceneBuffers buffers)
    {
        if (buffers.Size != layout.Size)
            throw new ArgumentException($"buffers are {buffers.Size}x{buffers.Size} but the layout is {layout.Size}x{layout.Size}");
        DrawBackground(layout, buffers);
        var objects = layout.Objects;
        // Far to near; ties keep annotation order so the result never depends on the sort.
        var order = new int[objects.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(order, (a, b) => objects[b].Depth != objects[a].Depth ? objects[b].Depth.CompareTo(objects[a].Depth) : a.CompareTo(b));
        foreach (int index in order) DrawObject(objects[index], (byte)(index + 1), buffers);
        if (layout.PixelNoise > 0f) AddNoise(buffers, layout.PixelNoise, layout.PixelNoiseSeed);
        if (layout.Blur) BlurImage(buffers);
        return Finish(layout, buffers);
    }

    private static void DrawBackground(SceneLayout layout, SceneBuffers buffers)
    {
        int size = layout.Size, plane = size * size;
        float[] image = buffers.Image, depth = buffers.Depth;
        byte[] semantic = buffers.Semantic;
        Array.Clear(buffers.Instance);
        byte stuff = (byte)(ShapeSdf.Count + StuffClasses.Of(layout.Family));
        float inv = 1f / size;
        float cos = DeterministicMath.Cos(layout.Angle), sin = DeterministicMath.Sin(layout.Angle);
        Rgb a = layout.Primary, b = layout.Secondary;
        float period = size / layout.Frequency;
        for (int y = 0; y < size; y++)
        {
            float yc = y + 0.5f, v = yc * inv;
            int row = y * size;
            for (int x = 0; x < size; x++)
            {
                float u = (x + 0.5f) * inv;
                float t;
                Rgb colour;
                byte label = stuff;
                float d = FarDepth - 1f + (1f - v);
                switch (layout.Family)
                {
                    case BackgroundFamily.Flat:
                        colour = Rgb.Lerp(a, b, 0.2f * v);
                        break;
                    case BackgroundFamily.Gradient:
                        t = Math.Clamp(0.5f + (u - 0.5f) * cos + (v - 0.5f) * sin, 0f, 1f);
                        colour = Rgb.Lerp(a, b, t);
                        break;
                    case BackgroundFamily.Noise:
                        colour = Rgb.Lerp(a, b, ValueNoise(layout.NoiseLattice, layout.NoiseCells, u, v));
                        break;
                    case BackgroundFamily.Stripes:
                        {
                            float s = Frac((u * cos + v * sin) * layout.Frequency);
                            t = Math.Clamp((0.25f - MathF.Abs(s - 0.5f)) * period + 0.5f, 0f, 1f);
                            colour = Rgb.Lerp(a, b, t);
                            break;
                        }
                    case BackgroundFamily.Grid:
                        {
                            float half = layout.LineWidth * period * 0.5f;
                            float du = MathF.Abs(Frac(u * layout.Frequency + 0.5f) - 0.5f) * period;
                            float dv = MathF.Abs(Frac(v * layout.Frequency + 0.5f) - 0.5f) * period;
                            t = Math.Clamp(half - MathF.Min(du, dv) + 0.5f, 0f, 1f);
                            colour = Rgb.Lerp(a, b, t);
                            break;
                        }
                    case BackgroundFamily.SkyGround:
                        {
                            float h = layout.Horizon;
                            var sky = Rgb.Lerp(a, new Rgb(1f, 1f, 1f), 0.5f * yc / h);
                            float g = Math.Max(0f, (yc - h) / (size - h));
                            var ground = Rgb.Lerp(b, b.Scale(0.7f), g);
                            colour = Rgb.Lerp(sky, ground, Math.Clamp(yc - h + 0.5f, 0f, 1f));
                            if (yc >= h)
                            {
                                label = (byte)(ShapeSdf.Count + StuffClasses.Ground);
                                d = FarDepth - 8f * g;
                            }
                            else
                            {
                                d = FarDepth;
                            }
                            break;
                        }
                    case BackgroundFamily.Checker:
                        colour = (((int)MathF.Floor(u * layout.Frequency) + (int)MathF.Floor(v * layout.Frequency)) & 1) == 0 ? a : b;
                        break;
                    default: // Radial
                        {
                            float dx = u - layout.CenterX, dy = v - layout.CenterY;
                            colour = Rgb.Lerp(a, b, Math.Clamp(MathF.Sqrt(dx * dx + dy * dy) * 1.6f, 0f, 1f));
                            break;
                        }
                }
                int p = row + x;
                image[p] = colour.R;
                image[plane + p] = colour.G;
                image[2 * plane + p] = colour.B;
                semantic[p] = label;
                depth[p] = d;
            }
        }
    }

    private static void DrawObject(SceneObject obj, byte id, SceneBuffers buffers)
    {
        int size = buffers.Size, plane = size * size;
        var (halfWidth, halfHeight) = obj.HalfExtent();
        int x0 = Math.Max(0, (int)MathF.Floor(obj.CenterX - halfWidth - 1f));
        int x1 = Math.Min(size - 1, (int)MathF.Ceiling(obj.CenterX + halfWidth + 1f));
        int y0 = Math.Max(0, (int)MathF.Floor(obj.CenterY - halfHeight - 1f));
        int y1 = Math.Min(size - 1, (int)MathF.Ceiling(obj.CenterY + halfHeight + 1f));
        if (x0 > x1 || y0 > y1) return;
        var frame = obj.LocalFrame();
        float runFactor = DisableRunSkipping ? 0f : InverseLipschitz;
        float[] image = buffers.Image, depth = buffers.Depth;
        byte[] instance = buffers.Instance, semantic = buffers.Semantic;
        byte label = (byte)obj.Shape;
        var shape = obj.Shape;
        var texture = obj.Texture;
        float frequency = obj.TextureFrequency, objectDepth = obj.Depth, ppu = frame.PixelsPerUnit;
        Rgb c1 = obj.Colour, c2 = obj.Secondary;
        for (int y = y0; y <= y1; y++)
        {
            float py = y + 0.5f;
            // Row constants; u and v are recomputed per pixel (not accumulated) so skipping pixels cannot change rounding.
            float rowU = frame.Uy * py + frame.U0, rowV = frame.Vy * py + frame.V0;
            int row = y * size;
            int known = 0; // pixels ahead known to be fully covered (sd <= -0.5) without evaluating the SDF
            for (int x = x0; x <= x1; x++)
            {
                float u = frame.Ux * (x + 0.5f) + rowU, v = frame.Vx * (x + 0.5f) + rowV;
                float sd, coverage;
                if (known > 0)
                {
                    known--;
                    sd = -1f;
                    coverage = 1f;
                }
                else
                {
                    sd = ShapeSdf.Distance(shape, u, v) * ppu;
                    // The distance changes by at most Lipschitz pixels per pixel step, so far from the
                    // edge whole runs are decided at once: skipped when outside, filled when inside.
                    if (sd >= 0.5f)
                    {
                        int skip = (int)((sd - 0.5f) * runFactor);
                        x += skip;
                        continue;
                    }
                    if (sd <= -0.5f) known = (int)((-0.5f - sd) * runFactor);
                    coverage = 0.5f - sd;
                    if (coverage > 1f) coverage = 1f;
                }
                var colour = Texel(texture, c1, c2, u, v, frequency);
                int p = row + x;
                image[p] += (colour.R - image[p]) * coverage;
                image[plane + p] += (colour.G - image[plane + p]) * coverage;
                image[2 * plane + p] += (colour.B - image[2 * plane + p]) * coverage;
                if (sd <= 0f)
                {
                    instance[p] = id;
                    semantic[p] = label;
                    depth[p] = objectDepth;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Rgb Texel(TextureKind texture, Rgb c1, Rgb c2, float u, float v, float frequency)
    {
        switch (texture)
        {
            case TextureKind.Solid:
                return c1;
            case TextureKind.Stripes:
                return Frac(u * frequency) < 0.5f ? c1 : c2;
            case TextureKind.Dots:
                {
                    float fu = Frac(u * frequency) - 0.5f, fv = Frac(v * frequency) - 0.5f;
                    return fu * fu + fv * fv < 0.09f ? c2 : c1;
                }
            case TextureKind.Checker:
                return (((int)MathF.Floor(u * frequency + 64f) + (int)MathF.Floor(v * frequency + 64f)) & 1) == 0 ? c1 : c2;
            default:
                return Rgb.Lerp(c1, c2, Math.Clamp((v + 1f) * 0.5f, 0f, 1f));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Frac(float value) => value - MathF.Floor(value);

    private static float ValueNoise(float[] lattice, int cells, float u, float v)
    {
        float fx = u * cells, fy = v * cells;
        int ix = Math.Min((int)fx, cells - 1), iy = Math.Min((int)fy, cells - 1);
        float tx = fx - ix, ty = fy - iy;
        tx = tx * tx * (3f - 2f * tx);
        ty = ty * ty * (3f - 2f * ty);
        int stride = cells + 1, i = iy * stride + ix;
        float top = lattice[i] + (lattice[i + 1] - lattice[i]) * tx;
        float bottom = lattice[i + stride] + (lattice[i + stride + 1] - lattice[i + stride]) * tx;
        return top + (bottom - top) * ty;
    }

    private static void AddNoise(SceneBuffers buffers, float std, uint seed)
    {
        // A stateless integer hash per value: uniform noise with the requested standard deviation.
        float scale = std * 3.4641016f / 4294967296f;
        float[] image = buffers.Image;
        for (int i = 0; i < image.Length; i++)
        {
            uint h = (uint)i * 0x9E3779B9u ^ seed;
            h ^= h >> 16; h *= 0x7FEB352Du; h ^= h >> 15; h *= 0x846CA68Bu; h ^= h >> 16;
            image[i] += (h - 2147483648f) * scale;
        }
    }

    private static void BlurImage(SceneBuffers buffers)
    {
        int size = buffers.Size, plane = size * size;
        float[] image = buffers.Image, scratch = buffers.Scratch;
        for (int c = 0; c < 3; c++)
        {
            var channel = image.AsSpan(c * plane, plane);
            // [1 2 1] / 4 along rows into scratch, then along columns back; edges repeat the border pixel.
            for (int y = 0; y < size; y++)
            {
                int row = y * size;
                scratch[row] = 0.75f * channel[row] + 0.25f * channel[row + 1];
                for (int x = 1; x < size - 1; x++)
                    scratch[row + x] = 0.25f * (channel[row + x - 1] + channel[row + x + 1]) + 0.5f * channel[row + x];
                scratch[row + size - 1] = 0.75f * channel[row + size - 1] + 0.25f * channel[row + size - 2];
            }
            for (int y = 0; y < size; y++)
            {
                int up = Math.Max(0, y - 1) * size, row = y * size, down = Math.Min(size - 1, y + 1) * size;
                var outRow = channel.Slice(row, size);
                var a = scratch.AsSpan(up, size);
                var m = scratch.AsSpan(row, size);
                var b = scratch.AsSpan(down, size);
                for (int x = 0; x < size; x++)
                    outRow[x] = 0.25f * (a[x] + b[x]) + 0.5f * m[x];
            }
        }
    }

    private static (SceneObject[], Box[], int[]) Finish(SceneLayout layout, SceneBuffers buffers)
    {
        int size = buffers.Size, count = layout.Objects.Length;
        Span<int> pixels = stackalloc int[count + 1];
        Span<int> minX = stackalloc int[count + 1], minY = stackalloc int[count + 1], maxX = stackalloc int[count + 1], maxY = stackalloc int[count + 1];
        minX.Fill(int.MaxValue);
        minY.Fill(int.MaxValue);
        maxX.Fill(-1);
        maxY.Fill(-1);
        byte[] instance = buffers.Instance;
        for (int y = 0; y < size; y++)
        {
            int row = y * size;
            for (int x = 0; x < size; x++)
            {
                int id = instance[row + x];
                if (id == 0) continue;
                pixels[id]++;
                if (x < minX[id]) minX[id] = x;
                if (x > maxX[id]) maxX[id] = x;
                if (y < minY[id]) minY[id] = y;
                if (y > maxY[id]) maxY[id] = y;
            }
        }
        // Noise and blur can leave [0, 1]; blending alone cannot.
        if (layout.PixelNoise > 0f || layout.Blur)
        {
            float[] image = buffers.Image;
            for (int i = 0; i < image.Length; i++) image[i] = Math.Clamp(image[i], 0f, 1f);
        }

        // Objects hidden entirely behind nearer ones (or too thin to own a pixel) leave the annotations.
        Span<byte> remap = stackalloc byte[count + 1];
        var visible = new List<int>(count);
        for (int k = 1; k <= count; k++)
        {
            if (pixels[k] == 0) continue;
            visible.Add(k - 1);
            remap[k] = (byte)visible.Count;
        }
        if (visible.Count != count)
            for (int p = 0; p < instance.Length; p++) instance[p] = remap[instance[p]];
        var objects = new SceneObject[visible.Count];
        var boxes = new Box[visible.Count];
        var counts = new int[visible.Count];
        for (int j = 0; j < visible.Count; j++)
        {
            int id = visible[j] + 1;
            objects[j] = layout.Objects[visible[j]];
            boxes[j] = new Box(minX[id], minY[id], maxX[id] + 1, maxY[id] + 1);
            counts[j] = pixels[id];
        }
        return (objects, boxes, counts);
    }
}
