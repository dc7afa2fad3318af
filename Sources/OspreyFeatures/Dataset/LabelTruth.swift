/// The truth that the label lines of an events file carry, by the id of the event they judge.
///
/// An events file (the simulator's, or a capture of the `events` and `labels` topics) tells
/// the truth about an event only later, in a label line with the same `event_id`: `fraud` or
/// `legit` for an order (with `fraud_type`), `bot` or `human` for a click. Offline training
/// reads those lines first, so that each event's row carries its truth.
///
/// Thread: any; a pure function of the file.
public enum LabelTruth {
    /// Reads every label line of the events file at `path`; other lines, and lines that do
    /// not decode, are passed over (the feature reader counts those).
    ///
    /// - Throws: ``FeatureFileError`` when the file cannot be opened or read.
    /// - Complexity: one pass over the file; memory for one entry per labelled event.
    public static func read(path: String, maxLineBytes: Int = 65_536) throws
        -> [String: EventTruth]
    {
        let lines = try LineReader(path: path, maxLineBytes: maxLineBytes)
        let decoder = EventDecoder(maxBytes: maxLineBytes)
        // Skip the decoder for lines that cannot be labels: most lines are clicks and orders.
        let marker = Array(#""label""#.utf8)
        var truth: [String: EventTruth] = [:]
        while try lines.next({ line in
            guard contains(line, marker), let label = try? decoder.decode(line),
                label.kind == .label, let id = decoder.text(of: .eventID)
            else { return }
            var known = truth[id] ?? EventTruth()
            if label.judgesBehaviour {
                known.bot = label.labelFraud
            } else {
                known.fraud = label.labelFraud
                known.fraudType = label.labelFraud ? decoder.text(of: .fraudType) : nil
            }
            truth[id] = known
        }) != nil {}
        return truth
    }

    private static func contains(_ line: UnsafeRawBufferPointer, _ marker: [UInt8]) -> Bool {
        guard line.count >= marker.count else { return false }
        var start = 0
        while start <= line.count - marker.count {
            var matched = 0
            while matched < marker.count, line[start + matched] == marker[matched] { matched += 1 }
            if matched == marker.count { return true }
            start += 1
        }
        return false
    }
}
