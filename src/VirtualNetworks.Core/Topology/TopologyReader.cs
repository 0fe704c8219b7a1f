using System;
using System.Collections.Generic;

namespace VirtualNetworks.Topology
{
    /// <summary>Result of reading a topology: a resolved spec (defaults applied) or the errors found.</summary>
    public sealed class TopologyReadResult
    {
        public TopologySpec? Spec { get; set; }
        public List<TopologyError> Errors { get; set; } = new List<TopologyError>();
        public bool Success => Errors.Count == 0 && Spec != null;
    }

    /// <summary>
    /// Reads topology JSON (Newtonsoft.Json) strictly: unknown fields, wrong types and missing fields are errors that
    /// name the field and its JSON path; syntax errors give line and column. Stage 1 (raw) and stage 2 (defaults
    /// applied) of the topology pipeline; stage 3 (checks against names, limits and observed state) is
    /// <see cref="TopologyValidator"/>.
    /// </summary>
    public static class TopologyReader
    {
        /// <summary>Reads and resolves a file. Never throws for bad content; I/O problems become errors too.</summary>
        public static TopologyReadResult ReadFile(string path) => throw new NotImplementedException();

        /// <summary>Parses and resolves JSON text; <paramref name="sourceName"/> is used in messages.</summary>
        public static TopologyReadResult Parse(string json, string sourceName) => throw new NotImplementedException();
    }
}
