using System;
using System.Globalization;
using System.IO;
using System.Linq;
using Newtonsoft.Json;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Export
{
    /// <summary>
    /// Writes a topology in the topology file format (docs/topology.schema.json), so that
    /// <see cref="TopologyReader.Parse"/> gives the same hosts, routers, links and address pools back.
    /// </summary>
    /// <remarks>
    /// Output is deterministic: two-space indentation, "\n" line ends, fixed field order, and hosts, routers and links
    /// sorted by name (ordinal, ignoring case; ties by ordinal). Every router field is written explicitly (no
    /// "defaults" section is needed to read the file), except: a router's host is left out when it is the local
    /// machine, its network label when it has none; a link's maximumBandwidth when unlimited (null or 0), its vlanId
    /// when it has none, its state when not declared; a host's kind when it has none. The networks' routing entries
    /// ("networks") follow the links, sorted by name, each with the fields that are set (bfd only when true). Physical links come last, each with its two hosts in name order,
    /// sorted; the section is left out when there are none. A "defaults" section appears only to carry address pools that
    /// differ from the built-in ones. Source names and JSON paths are not part of the format.
    /// </remarks>
    public static class TopologyWriter
    {
        public static string ToJson(TopologySpec spec)
        {
            if (spec == null) throw new ArgumentNullException(nameof(spec));

            var text = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
            using (var w = new JsonTextWriter(text) { Formatting = Formatting.Indented, Indentation = 2, IndentChar = ' ' })
            {
                w.WriteStartObject();

                var pools = spec.AddressPools ?? new AddressPools();
                bool customIPv4 = !string.IsNullOrEmpty(pools.IPv4) && !string.Equals(pools.IPv4, AddressPools.DefaultIPv4, StringComparison.OrdinalIgnoreCase);
                bool customIPv6 = !string.IsNullOrEmpty(pools.IPv6) && !string.Equals(pools.IPv6, AddressPools.DefaultIPv6, StringComparison.OrdinalIgnoreCase);
                if (customIPv4 || customIPv6)
                {
                    w.WritePropertyName("defaults");
                    w.WriteStartObject();
                    if (customIPv4) Write(w, "ipv4AddressPool", pools.IPv4);
                    if (customIPv6) Write(w, "ipv6AddressPool", pools.IPv6);
                    w.WriteEndObject();
                }

                if (spec.Hosts.Count > 0)
                {
                    w.WritePropertyName("hosts");
                    w.WriteStartArray();
                    foreach (var h in spec.Hosts.OrderBy(h => h.Name, StringComparer.OrdinalIgnoreCase).ThenBy(h => h.Name, StringComparer.Ordinal))
                    {
                        w.WriteStartObject();
                        Write(w, "name", h.Name);
                        if (!string.IsNullOrEmpty(h.Kind)) Write(w, "kind", h.Kind!);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }

                w.WritePropertyName("routers");
                w.WriteStartArray();
                foreach (var r in spec.Routers.OrderBy(r => r.Name, StringComparer.OrdinalIgnoreCase).ThenBy(r => r.Name, StringComparer.Ordinal))
                {
                    w.WriteStartObject();
                    Write(w, "name", r.Name);
                    if (!HostNames.IsLocalHost(r.Host)) Write(w, "host", r.Host);
                    Write(w, "image", r.Image);
                    w.WritePropertyName("processorCount");
                    w.WriteValue(r.ProcessorCount);
                    if (r.MemoryMB is int memory)
                    {
                        w.WritePropertyName("memoryMB");
                        w.WriteValue(memory);
                    }
                    if (!string.IsNullOrEmpty(r.NetworkLabel)) Write(w, "network", r.NetworkLabel!);
                    Write(w, "addressFamily", r.AddressFamily == NetworkAddressFamily.IPv6 ? "IPv6" : "IPv4");
                    w.WriteEndObject();
                }
                w.WriteEndArray();

                w.WritePropertyName("links");
                w.WriteStartArray();
                foreach (var l in spec.Links.OrderBy(l => l.Name, StringComparer.OrdinalIgnoreCase).ThenBy(l => l.Name, StringComparer.Ordinal))
                {
                    w.WriteStartObject();
                    Write(w, "name", l.Name);
                    Write(w, "from", l.From);
                    Write(w, "to", l.To);
                    if (l.MaximumBandwidth.HasValue && l.MaximumBandwidth.Value != 0)
                    {
                        w.WritePropertyName("maximumBandwidth");
                        w.WriteValue(l.MaximumBandwidth.Value);
                    }
                    if (l.VlanId.HasValue)
                    {
                        w.WritePropertyName("vlanId");
                        w.WriteValue(l.VlanId.Value);
                    }
                    if (l.State.HasValue) Write(w, "state", LinkStates.ToText(l.State.Value));
                    w.WriteEndObject();
                }
                w.WriteEndArray();

                if (spec.Networks.Count > 0)
                {
                    w.WritePropertyName("networks");
                    w.WriteStartArray();
                    foreach (var n in spec.Networks.OrderBy(n => n.Name, StringComparer.OrdinalIgnoreCase).ThenBy(n => n.Name, StringComparer.Ordinal))
                    {
                        w.WriteStartObject();
                        Write(w, "name", n.Name);
                        Write(w, "routing", n.Routing == RoutingProtocol.Ospf ? "ospf" : "static");
                        if (n.Bfd)
                        {
                            w.WritePropertyName("bfd");
                            w.WriteValue(true);
                        }
                        WriteInt(w, "helloIntervalSec", n.HelloIntervalSeconds);
                        WriteInt(w, "deadIntervalSec", n.DeadIntervalSeconds);
                        WriteInt(w, "bfdIntervalMs", n.BfdIntervalMilliseconds);
                        WriteInt(w, "bfdMultiplier", n.BfdMultiplier);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }

                if (spec.PhysicalLinks.Count > 0)
                {
                    w.WritePropertyName("physicalLinks");
                    w.WriteStartArray();
                    foreach (var p in spec.PhysicalLinks
                                 .Select(p => string.Compare(p.From, p.To, StringComparison.OrdinalIgnoreCase) <= 0 ? (p.From, p.To) : (From: p.To, To: p.From))
                                 .OrderBy(p => p.From, StringComparer.OrdinalIgnoreCase).ThenBy(p => p.To, StringComparer.OrdinalIgnoreCase))
                    {
                        w.WriteStartObject();
                        Write(w, "from", p.From);
                        Write(w, "to", p.To);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }
            return text.ToString() + "\n";
        }

        private static void WriteInt(JsonWriter w, string name, int? value)
        {
            if (!value.HasValue) return;
            w.WritePropertyName(name);
            w.WriteValue(value.Value);
        }

        private static void Write(JsonWriter w, string name, string value)
        {
            w.WritePropertyName(name);
            w.WriteValue(value ?? "");
        }
    }
}
