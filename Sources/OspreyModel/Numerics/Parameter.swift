/// One trainable tensor: its values, the gradient accumulated by backward passes, and the
/// name and shape it is saved under.
///
/// Values are row-major; a dense layer's weight has shape `[inputs, outputs]`. The parameter
/// owns both buffers and frees them when it goes away; the pointers it hands out are valid
/// while the parameter lives.
///
/// Thread: owned by one network, used by one thread at a time (the scorer or the trainer,
/// never both: the trainer works on its own copy).
public final class Parameter<T: BLASScalar> {
    /// The tensor's name in a model file (`bottom.0.weight`).
    public let name: String
    public let shape: [Int]
    /// The values; `values.count` is the product of ``shape``.
    ///
    /// - Important: code that writes them other than through ``assign(_:)`` or the optimiser
    ///   must call ``changed()`` afterwards, or a scoring copy of them (``FusedInputLayers``)
    ///   keeps the old values.
    public let values: UnsafeMutableBufferPointer<T>
    /// Counts changes of ``values`` (see ``changed()``).
    public private(set) var generation: UInt64 = 0
    /// The gradient of the loss with respect to ``values``, summed since ``zeroGradient()``.
    public let gradient: UnsafeMutableBufferPointer<T>

    public init(name: String, shape: [Int], values: [T]) {
        precondition(shape.reduce(1, *) == values.count, "shape does not match values")
        self.name = name
        self.shape = shape
        self.values = .allocate(capacity: values.count)
        _ = self.values.initialize(from: values)
        self.gradient = .allocate(capacity: values.count)
        self.gradient.initialize(repeating: 0)
    }

    deinit {
        values.deallocate()
        gradient.deallocate()
    }

    public var count: Int { values.count }

    /// The values as an array (a copy).
    public var array: [T] { Array(values) }

    /// Sets the gradient to zero.
    public func zeroGradient() { gradient.update(repeating: 0) }

    /// Replaces the values; `newValues` must have ``count`` elements.
    public func assign(_ newValues: [T]) {
        precondition(newValues.count == count, "parameter \(name): wrong number of values")
        _ = values.update(fromContentsOf: newValues)
        changed()
    }

    /// Records that ``values`` changed.
    public func changed() { generation &+= 1 }
}

/// A scratch matrix `[rows, columns]`, row-major, that keeps its storage between batches.
///
/// ``reserve(rows:)`` grows the storage only when a batch is larger than any before, so the
/// steady state allocates nothing. The workspace owns the memory; ``pointer`` is valid until
/// the next ``reserve(rows:)`` that grows it.
///
/// Thread: owned by one network.
public final class Workspace<T: BLASScalar> {
    public let columns: Int
    public private(set) var rows = 0
    public private(set) var pointer: UnsafeMutablePointer<T>
    private var capacityRows: Int

    public init(columns: Int, rows: Int = 1) {
        self.columns = columns
        capacityRows = max(1, rows)
        pointer = .allocate(capacity: capacityRows * max(1, columns))
        pointer.initialize(repeating: 0, count: capacityRows * max(1, columns))
    }

    deinit { pointer.deallocate() }

    /// Makes room for `rows` rows; the contents are unspecified afterwards.
    public func reserve(rows: Int) {
        self.rows = rows
        if rows > capacityRows {
            pointer.deallocate()
            capacityRows = max(rows, capacityRows * 2)
            pointer = .allocate(capacity: capacityRows * max(1, columns))
            pointer.initialize(repeating: 0, count: capacityRows * max(1, columns))
        }
    }

    /// The first `rows * columns` elements.
    public var buffer: UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: pointer, count: rows * columns)
    }

    /// Sets the current rows to zero.
    public func zero() { buffer.update(repeating: 0) }

    /// Row `row` as a pointer to its first element.
    @inline(__always)
    public func row(_ row: Int) -> UnsafeMutablePointer<T> { pointer + row * columns }
}
