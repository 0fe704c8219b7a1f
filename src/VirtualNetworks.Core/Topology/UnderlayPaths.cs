using System;
using System.Collections.Generic;
using System.Linq;

namespace VirtualNetworks.Topology
{
    /// <summary>
    /// Paths over the physical network (hosts joined by physical links): breadth-first, so the path found has the
    /// fewest hops; among equally short paths the one through names first in ordinal, case-insensitive order wins, so
    /// the result is deterministic. Host names are compared case-insensitively.
    /// </summary>
    public static class UnderlayPaths
    {
        private static readonly StringComparer Names = StringComparer.OrdinalIgnoreCase;

        /// <summary>An adjacency map (each link in both directions) from host pairs.</summary>
        public static Dictionary<string, List<string>> Graph(IEnumerable<(string From, string To)> links)
        {
            var graph = new Dictionary<string, List<string>>(Names);
            foreach (var (a, b) in links)
            {
                if (string.IsNullOrEmpty(a) || string.IsNullOrEmpty(b) || Names.Equals(a, b)) continue;
                if (!graph.TryGetValue(a, out var la)) graph[a] = la = new List<string>();
                if (!graph.TryGetValue(b, out var lb)) graph[b] = lb = new List<string>();
                if (!la.Contains(b, Names)) la.Add(b);
                if (!lb.Contains(a, Names)) lb.Add(a);
            }
            return graph;
        }

        /// <summary>
        /// The shortest path from <paramref name="from"/> to <paramref name="to"/>, both included; [from] when they are
        /// the same host; null when no path exists.
        /// </summary>
        public static IReadOnlyList<string>? ShortestPath(IReadOnlyDictionary<string, List<string>> graph, string from, string to)
        {
            if (Names.Equals(from, to)) return new[] { from };
            var previous = new Dictionary<string, string>(Names) { [from] = "" };
            var queue = new Queue<string>();
            queue.Enqueue(from);
            while (queue.Count > 0)
            {
                var current = queue.Dequeue();
                if (!graph.TryGetValue(current, out var next)) continue;
                foreach (var n in next.OrderBy(x => x, Names))
                {
                    if (previous.ContainsKey(n)) continue;
                    previous[n] = current;
                    if (Names.Equals(n, to))
                    {
                        var path = new List<string> { n };
                        for (var at = current; at.Length > 0; at = previous[at]) path.Add(at);
                        path.Reverse();
                        return path;
                    }
                    queue.Enqueue(n);
                }
            }
            return null;
        }

        /// <summary>True when a path joins the two hosts (always for the same host).</summary>
        public static bool Reachable(IReadOnlyDictionary<string, List<string>> graph, string from, string to) =>
            ShortestPath(graph, from, to) != null;

        /// <summary>Every host reachable from <paramref name="from"/>, itself included.</summary>
        public static IReadOnlyCollection<string> Component(IReadOnlyDictionary<string, List<string>> graph, string from)
        {
            var seen = new HashSet<string>(Names) { from };
            var stack = new Stack<string>();
            stack.Push(from);
            while (stack.Count > 0)
            {
                var current = stack.Pop();
                if (!graph.TryGetValue(current, out var next)) continue;
                foreach (var n in next)
                    if (seen.Add(n)) stack.Push(n);
            }
            return seen;
        }
    }
}
