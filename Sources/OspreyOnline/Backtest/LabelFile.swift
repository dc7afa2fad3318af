import Foundation
import OspreyFeatures

#if canImport(Glibc)
    import Glibc
#endif

/// The label lines of an events file (DESIGN.md: `{"type":"label","event_id":…,"ts":…,
/// "label":…,"fraud_type":…}`), read in a pass of their own because the feature reader
/// consumes them.
///
/// Only lines that mention `"label"` are parsed (with Foundation, which is slow but sees few
/// lines); a label line that does not parse is counted in ``refused``, never dropped
/// silently.
struct LabelFile {
    /// In time order (a stable sort of the file's order, which the contract keeps in time
    /// order already).
    var labels: [DelayedLabel] = []
    var refused = 0

    /// - Throws: ``FeatureFileError`` when the file cannot be read.
    init(path: String) throws {
        let reader = try LineReader(path: path, maxLineBytes: 1 << 20)
        let marker = Array("\"label\"".utf8)
        while let line = try reader.next({ Self.contains($0, marker) ? Data($0) : nil }) {
            guard let line else { continue }
            if let label = Self.parse(line) {
                labels.append(label)
            } else if Self.isLabelType(line) {
                refused += 1
            }
        }
        if zip(labels, labels.dropFirst()).contains(where: { $0.timeMs > $1.timeMs }) {
            labels = labels.enumerated().sorted {
                ($0.element.timeMs, $0.offset) < ($1.element.timeMs, $1.offset)
            }.map(\.element)
        }
    }

    /// Whether `marker` (which starts with a quote) occurs in `bytes`: `memchr` finds each
    /// quote, `memcmp` compares from there.
    private static func contains(_ bytes: UnsafeRawBufferPointer, _ marker: [UInt8]) -> Bool {
        guard let base = bytes.baseAddress, bytes.count >= marker.count else { return false }
        let end = base + bytes.count
        var cursor = base
        return marker.withUnsafeBytes { needle in
            guard let pattern = needle.baseAddress else { return false }
            while end - cursor >= needle.count,
                let found = memchr(cursor, Int32(needle[0]), end - cursor)
            {
                let start = UnsafeRawPointer(found)
                if end - start >= needle.count, memcmp(start, pattern, needle.count) == 0 {
                    return true
                }
                cursor = start + 1
            }
            return false
        }
    }

    private static func isLabelType(_ line: Data) -> Bool {
        let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any]
        return object?["type"] as? String == "label"
    }

    private static func parse(_ line: Data) -> DelayedLabel? {
        guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
            object["type"] as? String == "label", let id = object["event_id"] as? String,
            let verdictText = object["label"] as? String
        else { return nil }
        let time: Int64
        if let text = object["ts"] as? String {
            var copy = text
            guard let parsed = copy.withUTF8({ EventTimestamp.parse(UnsafeRawBufferPointer($0)) })
            else { return nil }
            time = parsed
        } else if let number = object["ts"] as? Double, number.isFinite {
            time = Int64(number)
        } else {
            return nil
        }
        let verdict: Verdict
        switch verdictText {
        case "fraud": verdict = .fraud(type: object["fraud_type"] as? String)
        case "legit": verdict = .legit
        case "bot": verdict = .bot
        case "human": verdict = .human
        default: return nil
        }
        return DelayedLabel(eventKey: DelayedLabel.eventKey(id), timeMs: time, verdict: verdict)
    }
}
