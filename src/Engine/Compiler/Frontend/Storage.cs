using System.Reflection;
using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Frontend;

/// <summary>A scalar SSA variable: an argument, a local, a struct field of one, or a return slot.</summary>
internal sealed class Variable(IrType type, string name)
{
    public IrType Type { get; } = type;
    public string Name { get; } = name;
    public override string ToString() => Name;
}

/// <summary>A struct-typed argument or local, split into one storage per field.</summary>
internal sealed class StructSlots(Type type, FieldInfo[] fields, object[] members)
{
    public Type Type { get; } = type;
    public FieldInfo[] Fields { get; } = fields;

    /// <summary>Per field: a <see cref="Variable"/> or a nested <see cref="StructSlots"/>.</summary>
    public object[] Members { get; } = members;

    public int IndexOf(FieldInfo field)
    {
        for (int i = 0; i < Fields.Length; i++)
            if (Fields[i].Name == field.Name)
                return i;
        throw new InvalidOperationException($"field {field.Name} is not part of {Type}");
    }
}

/// <summary>A local or argument of a class type: an error as soon as it is used.</summary>
internal sealed class ManagedSlot(Type type, string name)
{
    public Type Type { get; } = type;
    public string Name { get; } = name;
}

/// <summary>A managed object reference pushed by ldstr or ldnull: an error as soon as it is used.</summary>
internal sealed class ManagedReference(string what) : AbstractValue
{
    public string What { get; } = what;
}

/// <summary>The address of an argument, local or field of one (from ldloca/ldarga/ldflda): resolved at compile time.</summary>
internal sealed class SlotAddress(object storage) : AbstractValue
{
    public object Storage { get; } = storage;

    public override bool Equals(object? obj) => obj is SlotAddress other && ReferenceEquals(other.Storage, Storage);

    public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(Storage);
}

/// <summary>A struct value on the evaluation stack, as its field values.</summary>
internal sealed class StructValue(Type type, AbstractValue[] fields) : AbstractValue
{
    public Type Type { get; } = type;
    public AbstractValue[] Fields { get; } = fields;
}

internal static class ClrTypes
{
    public static FieldInfo[] InstanceFields(Type t) =>
        t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);

    public static bool IsStruct(Type t) => t.IsValueType && !t.IsPrimitive && !t.IsEnum && !t.IsPointer && t != typeof(nint) && t != typeof(nuint);

    public static IrType? RegisterType(Type t)
    {
        if (t.IsByRef || t.IsPointer)
            return IrType.Ptr;
        if (t.IsEnum)
            t = Enum.GetUnderlyingType(t);
        return Type.GetTypeCode(t) switch
        {
            TypeCode.Boolean => IrType.Pred,
            TypeCode.SByte or TypeCode.Byte or TypeCode.Int16 or TypeCode.UInt16 or TypeCode.Char or TypeCode.Int32 or TypeCode.UInt32 => IrType.I32,
            TypeCode.Int64 or TypeCode.UInt64 => IrType.I64,
            TypeCode.Single => IrType.F32,
            TypeCode.Double => IrType.F64,
            _ when t == typeof(nint) || t == typeof(nuint) => IrType.I64,
            _ => null,
        };
    }

    public static MemType? MemoryType(Type t)
    {
        if (t.IsEnum)
            t = Enum.GetUnderlyingType(t);
        if (t.IsPointer || t == typeof(nint) || t == typeof(nuint))
            return MemType.U64;
        return Type.GetTypeCode(t) switch
        {
            TypeCode.Boolean or TypeCode.Byte => MemType.U8,
            TypeCode.SByte => MemType.S8,
            TypeCode.Int16 => MemType.S16,
            TypeCode.UInt16 or TypeCode.Char => MemType.U16,
            TypeCode.Int32 => MemType.S32,
            TypeCode.UInt32 => MemType.U32,
            TypeCode.Int64 => MemType.S64,
            TypeCode.UInt64 => MemType.U64,
            TypeCode.Single => MemType.F32,
            TypeCode.Double => MemType.F64,
            _ => null,
        };
    }

    public static bool IsUnsigned(Type t) => Type.GetTypeCode(t.IsEnum ? Enum.GetUnderlyingType(t) : t)
        is TypeCode.Byte or TypeCode.UInt16 or TypeCode.Char or TypeCode.UInt32 or TypeCode.UInt64 || t == typeof(nuint);
}
