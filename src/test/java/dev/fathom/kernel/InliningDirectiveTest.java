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
        assertTrue(stack.indexOf("Enable:true", stack.indexOf("c2 directives", at)) > 0, "c2 part not enabled:\n" + stack);
    }
}
