namespace Tessera.Models.Data.World;

/// <summary>Draws a <see cref="SceneLayout"/> from a <see cref="WorldDomain"/>; all randomness comes from the given stream.</summary>
public static class SceneSampler
{
    private static readonly ShapeKind[] s_allShapes = Enum.GetValues<ShapeKind>();
    private static readonly TextureKind[] s_allTextures = Enum.GetValues<TextureKind>();
    private static readonly int[] s_allColours = Enumerable.Range(0, Palettes.ColourCount).ToArray();

    public static SceneLayout Sample(WorldDomain domain, int size, SceneRandom random)
    {
        if (size is < 16 or > 1024)
            throw new ArgumentOutOfRangeException(nameof(size), size, "scene size must be in 16..1024 (the world is designed for 32..256)");
        if (domain.MinObjects < 1 || domain.MaxObjects < domain.MinObjects || domain.MaxObjects > 250)
            throw new ArgumentException($"a domain needs 1 <= MinObjects <= MaxObjects <= 250 (every scene has a main object); got {domain.MinObjects}..{domain.MaxObjects}");
        int typeIndex = random.Pick(domain.SceneTypes);
        var type = SceneTypes.All[typeIndex];
        var palette = random.Pick(domain.Palettes);
        float jitter = 0.12f;
        var primary = Jitter(type.Primary, random, jitter);
        var secondary = Jitter(type.Secondary, random, jitter);

        int cells = 0;
        float[] lattice = [];
        if (type.Family == BackgroundFamily.Noise)
        {
            cells = 4 + random.NextInt(3);
            lattice = new float[(cells + 1) * (cells + 1)];
            for (int i = 0; i < lattice.Length; i++) lattice[i] = random.NextFloat();
        }
        float angle = random.Range(0f, MathF.PI);
        float frequency = type.Family switch
        {
            BackgroundFamily.Stripes => random.Range(4f, 9f),
            BackgroundFamily.Grid => random.Range(3f, 7f),
            BackgroundFamily.Checker => random.Range(3f, 6f),
            _ => 1f,
        };
        float lineWidth = random.Range(0.1f, 0.22f);
        float horizon = size * random.Range(0.35f, 0.6f);
        float centerX = random.Range(0.25f, 0.75f), centerY = random.Range(0.2f, 0.6f);

        int count = random.RangeInclusive(domain.MinObjects, domain.MaxObjects);
        var objects = new SceneObject[count];
        // Depth layers: the main object is the nearest, the rest spread behind it.
        var depths = new float[count];
        for (int i = 0; i < count; i++) depths[i] = random.Range(2f, 8f);
        Array.Sort(depths);
        if (count > 0) depths[0] = Math.Max(1f, depths[0] - 1f);
        for (int i = 1; i < count; i++)
            if (depths[i] <= depths[i - 1]) depths[i] = depths[i - 1] + 0.01f;

        for (int i = 0; i < count; i++)
        {
            bool main = i == 0;
            var shape = PickShape(domain, type, random);
            var texture = random.Pick(domain.Textures ?? s_allTextures);
            if (domain.Combinations == CombinationRule.UnseenMain && main)
                (shape, texture) = PickHeldOutPair(domain, random);
            else if (domain.Combinations != CombinationRule.Any && Textures.IsHeldOutCombination(shape, texture))
                texture = TextureKind.Solid;
            int colourIndex = random.Pick(domain.Colours ?? s_allColours);
            var colour = Palettes.Colour(palette, colourIndex);
            float scale = random.LogRange(domain.MinScale, domain.MaxScale);
            if (main) scale = Math.Max(scale, random.Range(domain.MinScale, domain.MaxScale)); // the main object tends to be the largest
            if (domain.Perspective) scale *= Math.Clamp(3f / depths[i], 0.5f, 1.8f); // nearer is bigger, within limits
            float radius = Math.Max(1.5f, scale * size);
            float cx, cy;
            if (main && domain.CentredMain)
            {
                cx = size * (0.5f + random.Range(-0.06f, 0.06f));
                cy = size * (0.5f + random.Range(-0.06f, 0.06f));
            }
            else
            {
                cx = random.Range(radius * 0.6f, size - radius * 0.6f);
                cy = random.Range(radius * 0.6f, size - radius * 0.6f);
            }
            float aspect = random.LogRange(1f / domain.MaxAspect, domain.MaxAspect);
            objects[i] = new SceneObject
            {
                Shape = shape,
                Texture = texture,
                ColourIndex = colourIndex,
                Colour = colour,
                Secondary = colour.Luminance > 0.55f ? colour.Scale(0.5f) : Rgb.Lerp(colour, new Rgb(1f, 1f, 1f), 0.55f),
                CenterX = cx,
                CenterY = cy,
                Radius = radius,
                Rotation = random.Range(-MathF.PI, MathF.PI),
                Aspect = shape == ShapeKind.Diamond ? MathF.Min(aspect, 1f / aspect) : aspect,
                Depth = depths[i],
                TextureFrequency = random.Range(2f, 4f),
            };
        }
        return new SceneLayout
        {
            Size = size,
            SceneTypeIndex = typeIndex,
            Family = type.Family,
            Primary = primary,
            Secondary = secondary,
            Angle = angle,
            Frequency = frequency,
            LineWidth = lineWidth,
            Horizon = horizon,
            CenterX = centerX,
            CenterY = centerY,
            NoiseLattice = lattice,
            NoiseCells = cells,
            Objects = objects,
            PixelNoise = domain.Noise,
            PixelNoiseSeed = random.NextBits(),
            Blur = domain.Blur,
        };
    }

    private static ShapeKind PickShape(WorldDomain domain, SceneType type, SceneRandom random)
    {
        if (domain.Shapes is { } allowed)
            return random.Pick(allowed);
        return random.Chance(domain.FavouredShapeBias) ? random.Pick(type.FavouredShapes) : random.Pick(s_allShapes);
    }

    private static (ShapeKind, TextureKind) PickHeldOutPair(WorldDomain domain, SceneRandom random)
    {
        var shapes = domain.Shapes ?? s_allShapes;
        var textures = domain.Textures ?? s_allTextures;
        // Rejection sampling over the allowed pairs; every domain that asks for held-out pairs has some.
        for (int attempt = 0; attempt < 256; attempt++)
        {
            var shape = random.Pick(shapes);
            var texture = random.Pick(textures);
            if (Textures.IsHeldOutCombination(shape, texture))
                return (shape, texture);
        }
        throw new InvalidOperationException("the domain's shapes and textures contain no held-out combination");
    }

    private static Rgb Jitter(Rgb colour, SceneRandom random, float amount) => new(
        Math.Clamp(colour.R + random.Range(-amount, amount), 0f, 1f),
        Math.Clamp(colour.G + random.Range(-amount, amount), 0f, 1f),
        Math.Clamp(colour.B + random.Range(-amount, amount), 0f, 1f));
}
