namespace Tessera.Engine;

/// <summary>A tensor had the wrong shape for an op (message names the op, the argument, expected and found).</summary>
public class TensorShapeException : ArgumentException
{
    public TensorShapeException() { }
    public TensorShapeException(string message) : base(message) { }
    public TensorShapeException(string message, string paramName) : base(message, paramName) { }
    public TensorShapeException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A tensor had the wrong element type for an op.</summary>
public class TensorDTypeException : ArgumentException
{
    public TensorDTypeException() { }
    public TensorDTypeException(string message) : base(message) { }
    public TensorDTypeException(string message, string paramName) : base(message, paramName) { }
    public TensorDTypeException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Tensors of one op lived on different devices, or on a device with no backend.</summary>
public class TensorDeviceException : ArgumentException
{
    public TensorDeviceException() { }
    public TensorDeviceException(string message) : base(message) { }
    public TensorDeviceException(string message, string paramName) : base(message, paramName) { }
    public TensorDeviceException(string message, Exception inner) : base(message, inner) { }
}
