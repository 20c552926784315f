namespace Tessera.Engine.Gpu;

/// <summary>A unary elementwise function; implement it on a struct and pass the struct as a type argument.</summary>
public interface IUnaryOp<T> where T : unmanaged
{
    static abstract T Apply(T x);
}

/// <summary>A binary elementwise function; implement it on a struct and pass the struct as a type argument.</summary>
public interface IBinaryOp<T> where T : unmanaged
{
    static abstract T Apply(T x, T y);
}
