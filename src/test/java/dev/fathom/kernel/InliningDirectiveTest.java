package dev.fathom.kernel;

import org.junit.jupiter.api.Test;

import javax.management.ObjectName;
import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Loading the kernels puts Fathom's inlining directive into the JVM's C2 directive stack. */
class InliningDirectiveTest {
    @Test
    void kernelsInstallTheDirective() throws Exception {
        RowKernels.of(dev.fathom.tensor.TensorType.Q8_0);
        assertTrue(InliningDirective.install(), "directive not installed");
        String stack = String.valueOf(ManagementFactory.getPlatformMBeanServer().invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"), "compilerDirectivesPrint",
                new Object[] {new String[0]}, new String[] {String[].class.getName()}));
        int at = stack.indexOf("matching: dev/fathom/kernel/*.*");
        assertTrue(at >= 0, "no directive for dev/fathom/kernel in:\n" + stack);
        int next = stack.indexOf("Directive:", at); // the JVM's default directive follows ours, enabled too
        String ours = stack.substring(at, next < 0 ? stack.length() : next);
        String c2 = ours.substring(ours.indexOf("c2 directives"));
        assertTrue(c2.contains("Enable:true"), "c2 part of the directive not enabled:\n" + ours);
    }
}
