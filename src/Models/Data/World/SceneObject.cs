using System.Runtime.CompilerServices;

namespace Tessera.Models.Data.World;

/// <summary>One object of a scene: geometry in pixels, appearance, and its depth (smaller is nearer).</summary>
public sealed class SceneObject
{
    public ShapeKind Shape { get; init; }
    public TextureKind Texture { get; init; }
    public int ColourIndex { get; init; }
    public Rgb Colour { get; init; }
    public Rgb Secondary { get; init; }
    public float CenterX { get; set; }
    public float CenterY { get; set; }
    /// <summary>Radius of the unit frame in pixels (the shape spans about twice this).</summary>
    public float Radius { get; set; }
    public float Rotation { get; init; }
    /// <summary>Width/height stretch of the unit frame (1 = undistorted).</summary>
    public float Aspect { get; init; }
    public float Depth { get; set; }
    /// <summary>Texture repeats across the unit frame.</summary>
    public float TextureFrequency { get; init; }

    /// <summary>Half extents of the axis-aligned box holding the rotated shape, in pixels.</summary>
    public (float HalfWidth, float HalfHeight) HalfExtent()
    {
        float c = MathF.Abs(DeterministicMath.Cos(Rotation)), s = MathF.Abs(DeterministicMath.Sin(Rotation));
        float rx = Radius * Aspect * 1.1f, ry = Radius / Aspect * 1.1f;
        return (c * rx + s * ry, s * rx + c * ry);
    }

    /// <summary>The frame mapping pixel (x, y) to unit coordinates: u = Ux*x + Uy*y + U0, v likewise.</summary>
    internal Frame LocalFrame()
    {
        float c = DeterministicMath.Cos(Rotation), s = DeterministicMath.Sin(Rotation);
        float sx = 1f / (Radius * Aspect), sy = Aspect / Radius;
        return new Frame(c * sx, s * sx, -(c * CenterX + s * CenterY) * sx,
                         -s * sy, c * sy, -(-s * CenterX + c * CenterY) * sy,
                         Radius * MathF.Min(Aspect, 1f / Aspect));
    }

    /// <summary>Signed distance in pixels from the pixel centre (x + 0.5, y + 0.5); negative inside. Bit-identical to what the renderer evaluates.</summary>
    public float DistanceAt(int x, int y)
    {
        var f = LocalFrame();
        float px = x + 0.5f, py = y + 0.5f;
        return ShapeSdf.Distance(Shape, f.U(px, py), f.V(px, py)) * f.PixelsPerUnit;
    }

    /// <summary>Whether the unoccluded shape would own pixel (x, y) (coverage at least one half).</summary>
    public bool Covers(int x, int y) => DistanceAt(x, y) <= 0f;

    internal readonly record struct Frame(float Ux, float Uy, float U0, float Vx, float Vy, float V0, float PixelsPerUnit)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float U(float x, float y) => Ux * x + (Uy * y + U0); // the renderer's association: row constant first

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float V(float x, float y) => Vx * x + (Vy * y + V0);
    }
}

/// <summary>An axis-aligned box in pixels, [X1, X2) x [Y1, Y2).</summary>
public readonly record struct Box(float X1, float Y1, float X2, float Y2)
{
    public float Width => X2 - X1;
    public float Height => Y2 - Y1;
    public float Area => Math.Max(0f, Width) * Math.Max(0f, Height);
}
