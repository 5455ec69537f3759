extension Duration {
    /// The duration in (fractional) seconds, for `Date` arithmetic and rates.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
