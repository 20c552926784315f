using System.Runtime.CompilerServices;

namespace Tessera.Models.Data.World;

/// <summary>The object categories of the procedural world (detection and classification classes, in this order).</summary>
public enum ShapeKind
{
    Circle,
    Square,
    Triangle,
    Star,
    Cross,
    Ring,
    Diamond,
    Hexagon,
    Arrow,
    Heart,
    Crescent,
    Pentagon,
}

/// <summary>
/// Signed distance functions of the shapes in a unit frame (the shape fits in [-1, 1]^2, y down).
/// Negative inside. Exact or close to exact (Inigo Quilez's formulas), so that
/// <c>0.5 - distance / pixelSize</c> is a good analytic anti-aliasing coverage.
/// </summary>
public static class ShapeSdf
{
    public const int Count = 12;

    private static readonly string[] s_names = ["circle", "square", "triangle", "star", "cross", "ring", "diamond", "hexagon", "arrow", "heart", "crescent", "pentagon"];

    /// <summary>Lower-case names in class order ("circle", "square", ...).</summary>
    public static IReadOnlyList<string> Names => s_names;

    public static string Name(ShapeKind kind) => s_names[(int)kind];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Distance(ShapeKind kind, float x, float y) => kind switch
    {
        ShapeKind.Circle => MathF.Sqrt(x * x + y * y) - 0.95f,
        ShapeKind.Square => Box(x, y, 0.8f, 0.8f),
        ShapeKind.Triangle => Triangle(x, y - 0.25f, 0.85f),
        ShapeKind.Star => Star5(x, y + 0.05f, 1f, 0.45f),
        ShapeKind.Cross => MathF.Min(Box(x, y, 0.95f, 0.32f), Box(x, y, 0.32f, 0.95f)),
        ShapeKind.Ring => MathF.Abs(MathF.Sqrt(x * x + y * y) - 0.7f) - 0.25f,
        // A tall rhombus (diagonals 1.0 x 1.96), never a rotated square; the sampler only stretches it taller.
        ShapeKind.Diamond => (0.98f * MathF.Abs(x) + 0.5f * MathF.Abs(y) - 0.49f) * 0.9094f,
        ShapeKind.Hexagon => Hexagon(x, y, 0.82f),
        ShapeKind.Arrow => MathF.Min(Box(x + 0.35f, y, 0.6f, 0.22f), Triangle(y, -(x - 0.3f), 0.6f)),
        ShapeKind.Heart => Heart(x, y),
        ShapeKind.Crescent => MathF.Max(MathF.Sqrt(x * x + y * y) - 0.95f, -(MathF.Sqrt((x - 0.45f) * (x - 0.45f) + (y + 0.15f) * (y + 0.15f)) - 0.75f)),
        ShapeKind.Pentagon => Pentagon(x, y - 0.08f, 0.75f),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Box(float x, float y, float halfWidth, float halfHeight)
    {
        float dx = MathF.Abs(x) - halfWidth, dy = MathF.Abs(y) - halfHeight;
        float ox = MathF.Max(dx, 0f), oy = MathF.Max(dy, 0f);
        return MathF.Sqrt(ox * ox + oy * oy) + MathF.Min(MathF.Max(dx, dy), 0f);
    }

    // Equilateral triangle pointing up (y down, so the apex has negative y).
    private static float Triangle(float x, float y, float radius)
    {
        const float K = 1.7320508f;
        y = -y;
        x = MathF.Abs(x) - radius;
        y += radius / K;
        if (x + K * y > 0f)
        {
            float nx = (x - K * y) / 2f, ny = (-K * x - y) / 2f;
            x = nx;
            y = ny;
        }
        x -= Math.Clamp(x, -2f * radius, 0f);
        return -MathF.Sqrt(x * x + y * y) * MathF.Sign(y);
    }

    private static float Hexagon(float x, float y, float radius)
    {
        const float Kx = -0.866025404f, Ky = 0.5f, Kz = 0.577350269f;
        x = MathF.Abs(x);
        y = MathF.Abs(y);
        float dot = 2f * MathF.Min(Kx * x + Ky * y, 0f);
        x -= dot * Kx;
        y -= dot * Ky;
        x -= Math.Clamp(x, -Kz * radius, Kz * radius);
        y -= radius;
        return MathF.Sqrt(x * x + y * y) * MathF.Sign(y);
    }

    private static float Pentagon(float x, float y, float radius)
    {
        const float Kx = 0.809016994f, Ky = 0.587785252f, Kz = 0.726542528f;
        y = -y;
        x = MathF.Abs(x);
        float d1 = 2f * MathF.Min(-Kx * x + Ky * y, 0f);
        x -= d1 * -Kx;
        y -= d1 * Ky;
        float d2 = 2f * MathF.Min(Kx * x + Ky * y, 0f);
        x -= d2 * Kx;
        y -= d2 * Ky;
        x -= Math.Clamp(x, -radius * Kz, radius * Kz);
        y -= radius;
        return MathF.Sqrt(x * x + y * y) * MathF.Sign(y);
    }

    private static float Star5(float x, float y, float radius, float innerFactor)
    {
        const float K1x = 0.809016994f, K1y = -0.587785252f, K2x = -0.809016994f, K2y = -0.587785252f;
        y = -y;
        x = MathF.Abs(x);
        float d = 2f * MathF.Max(K1x * x + K1y * y, 0f);
        x -= d * K1x;
        y -= d * K1y;
        d = 2f * MathF.Max(K2x * x + K2y * y, 0f);
        x -= d * K2x;
        y -= d * K2y;
        x = MathF.Abs(x);
        y -= radius;
        float bax = -innerFactor * K1y, bay = innerFactor * K1x - 1f;
        float h = Math.Clamp((x * bax + y * bay) / (bax * bax + bay * bay), 0f, radius);
        float ex = x - bax * h, ey = y - bay * h;
        return MathF.Sqrt(ex * ex + ey * ey) * MathF.Sign(ey * bax - ex * bay);
    }

    private static float Heart(float x, float y)
    {
        // iq's heart spans x in [-0.6, 0.6], y in [0, 1.0] (y up): map the unit frame onto it.
        float px = MathF.Abs(x) * 0.62f, py = (-y + 0.95f) * 0.55f;
        float d;
        if (py + px > 1f)
        {
            float ax = px - 0.25f, ay = py - 0.75f;
            d = MathF.Sqrt(ax * ax + ay * ay) - 0.35355339f;
        }
        else
        {
            float ax = px, ay = py - 1f;
            float t = 0.5f * MathF.Max(px + py, 0f);
            float bx = px - t, by = py - t;
            float dd = MathF.Min(ax * ax + ay * ay, bx * bx + by * by);
            d = MathF.Sqrt(dd) * MathF.Sign(px - py);
        }
        return d / 0.58f;
    }
}
