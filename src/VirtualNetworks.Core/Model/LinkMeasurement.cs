using System;

namespace VirtualNetworks
{
    /// <summary>A throughput measurement through a virtual link, taken inside the guests.</summary>
    public sealed class LinkMeasurement
    {
        public string Name { get; set; } = "";
        /// <summary>The sending router.</summary>
        public string From { get; set; } = "";
        /// <summary>The receiving router.</summary>
        public string To { get; set; } = "";
        /// <summary>The configured limit, bits/s (null = unlimited).</summary>
        public long? MaximumBandwidth { get; set; }
        /// <summary>
        /// Measured rate in the unit the limit is expressed in: layer-2 frame bits per second (TCP payload goodput
        /// scaled by frame size over payload size; see docs/benchmarks.md).
        /// </summary>
        public long MeasuredBandwidth { get; set; }
        /// <summary>TCP payload bits per second as the receiver counted them.</summary>
        public long Goodput { get; set; }
        public long Bytes { get; set; }
        public TimeSpan Duration { get; set; }
        /// <summary>MeasuredBandwidth / MaximumBandwidth, when limited.</summary>
        public double? Ratio => MaximumBandwidth.HasValue && MaximumBandwidth.Value > 0 ? (double)MeasuredBandwidth / MaximumBandwidth.Value : (double?)null;
    }
}
